import { CoapError } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { EventBus, RemovalReason } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';
import type { Device, DeviceSource, Registration } from '../src/store/types.js';
import type { Attrs, Link } from '../src/coap/link-format.js';
import { unmapHost } from '../src/coap/peer.js';
import { baseOf, contactOf, type Source } from './address.js';
import { EndpointIndex } from './endpoint-index.js';
import { registrationBytes, type Sized } from './registration-limits.js';
import { keepRenderings } from './resolved.js';
import { keptAttrs, keptLinks, looksTheSame } from './unchanged.js';

/** A registration as the registration interface hands it over (RFC 9176 §5.3), already validated. */
export interface RegistrationInput {
  ep: string;
  d: string | null;
  lt: number;
  /** Explicit base; absent means the registrant's source address. */
  base: string | undefined;
  et: string | null;
  attrs: Attrs;
  links: Link[];
}

/** What an update may change (RFC 9176 §5.3.1; new links are this RD's extension). */
export interface RegistrationChange {
  lt: number | undefined;
  base: string | undefined;
  et: string | undefined;
  attrs: Attrs;
  links: Link[] | undefined;
}

/** One bus event of a change, its payload taken when the change was made. */
type Announcement = () => void;

export type DiscoveredResult = { ok: true; deviceId: string } | { ok: false; error: string };

/** How long a client should wait before retrying when the directory is full (RFC 9176 §5.3: 5.03 + Max-Age). */
const FULL_RETRY_SECONDS = 60;

/**
 * The state the RD interfaces share (aiocoap's CommonRD): registrations over the store, the identity
 * rules of docs/design.md, and the bus events. Every change goes through here, so every change is indexed
 * and announced exactly once.
 *
 * Events: a registration (new or replacing one of the same `d`/`ep`) emits `device.registered`, since
 * RFC 9176 §5.3 makes it a new registration that replaces the old one; an update emits `device.updated`;
 * a removal emits `device.removed` with its reason (each once its writes are on disk, see announce()). A device that loses its registration goes offline
 * (`device.offline`); one that registers or updates while offline comes back (`device.online`).
 */
export class Directory {
  private readonly index = new EndpointIndex();
  private changes = 0;
  /** Bytes the live and not yet swept registrations hold (registrationBytes), against limits.maxDirectoryBytes. */
  private held = 0;
  private readonly sizes = new WeakMap<Registration, number>();

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly config: RdConfig,
  ) {
    for (const reg of store.registrations.all()) {
      this.index.add(reg);
      this.held += this.sizeOf(reg);
    }
  }

  /** The live registration at `/rd/<id>`; an expired one not swept yet is already gone. */
  get(id: string, now = Date.now()): Registration | undefined {
    const reg = this.store.registrations.get(id);
    return reg && reg.expiresAt > now ? reg : undefined;
  }

  /** Live registrations, oldest first. */
  *all(now = Date.now()): Generator<Registration> {
    for (const reg of this.store.registrations.all()) if (reg.expiresAt > now) yield reg;
  }

  /** Live registrations among a set of device ids (an index answer). */
  *among(ids: Iterable<string>, now = Date.now()): Generator<Registration> {
    for (const id of ids) {
      const reg = this.get(id, now);
      if (reg) yield reg;
    }
  }

  /** Grows with every change to registrations or groups: what a cached lookup result is checked against. */
  get version(): number {
    return this.changes;
  }

  /** Records a change made outside Directory (groups). */
  changed(): void {
    this.changes++;
  }

  get endpoints(): EndpointIndex {
    return this.index;
  }

  count(): number {
    return this.store.registrations.count();
  }

  register(
    input: RegistrationInput,
    source: Source,
    kind: Exclude<DeviceSource, 'discovery'>,
    now = Date.now(),
  ): Registration {
    const known = this.store.devices.findByEndpoint(input.d, input.ep) ?? this.discoveredAt(source);
    const previous = known && this.store.registrations.get(known.id);
    if (!previous && this.count() >= this.config.limits.maxRegistrations) {
      this.log.warn({ ep: input.ep, source }, 'registration refused: directory full');
      throw new CoapError('5.03', 'directory full', FULL_RETRY_SECONDS);
    }
    // RFC 9176 §5.1: the device is reached at its base; the source address only when it gave none.
    const contact = contactOf(input.base, source);
    const size = this.admitBytes({ ...input, base: input.base ?? baseOf(source) }, previous);
    const reg = this.store.write(() => {
      const device = known
        ? this.moveDevice(known, { ep: input.ep, d: input.d, ...contact, lastSeen: now })
        : this.store.devices.create({ ep: input.ep, d: input.d, source: kind, ...contact }, now);
      const next: Registration = {
        deviceId: device.id,
        ep: input.ep,
        d: input.d,
        base: input.base ?? baseOf(source),
        baseExplicit: input.base !== undefined,
        lt: input.lt,
        et: input.et,
        attrs: keptAttrs(previous?.attrs, input.attrs),
        links: keptLinks(previous?.links, input.links),
        discovered: false,
        createdAt: now,
        updatedAt: now,
        expiresAt: now + input.lt * 1000,
      };
      return this.put(next, previous, size);
    });
    const events: Announcement[] = [];
    this.describe(events, 'device.registered', reg.deviceId);
    this.markOnline(events, reg.deviceId, now);
    this.announce(events);
    return reg;
  }

  /** RFC 9176 §5.3.1: refreshes the lifetime and applies the changes; undefined when there is no such registration. */
  update(id: string, change: RegistrationChange, source: Source, now = Date.now()): Registration | undefined {
    const current = this.get(id, now);
    if (!current) return undefined;
    const lt = change.lt ?? current.lt;
    // RFC 9176 §5.3.1: without an explicit base, the base follows the source address of the update.
    const base = change.base ?? (current.baseExplicit ? current.base : baseOf(source));
    const next: Registration = {
      ...current,
      lt,
      base,
      baseExplicit: change.base !== undefined || current.baseExplicit,
      et: change.et ?? current.et,
      // Unchanged attributes stay the same object: the store then leaves their column alone.
      attrs: Object.keys(change.attrs).length === 0 ? current.attrs : { ...current.attrs, ...change.attrs },
      links: change.links ?? current.links,
      updatedAt: now,
      expiresAt: now + lt * 1000,
    };
    const attributes = Object.keys(next.attrs).length;
    if (attributes > this.config.limits.maxAttributesPerRegistration) {
      throw new CoapError('4.13', `too many attributes (at most ${this.config.limits.maxAttributesPerRegistration})`);
    }
    const size = this.admitBytes(next, current);
    // RFC 9176 §5.3.1: a new base moves the device; without one, a new source address moves it only when
    // the registration has no explicit base (the update's source is then its base, as at registration).
    const contact = next.baseExplicit ? contactOf(next.base, source) : source;
    let moved = false;
    const held = this.store.write(() => {
      const device = this.store.devices.get(id);
      moved =
        !current.discovered && device !== undefined && (device.host !== contact.host || device.port !== contact.port);
      // An update is a sign of life: lastSeen moves with it (docs/api.md).
      if (device) this.moveDevice(device, current.discovered ? { lastSeen: now } : { ...contact, lastSeen: now });
      return this.put(next, current, size);
    });
    const events: Announcement[] = [];
    const refresh = !moved && held.lt === current.lt && looksTheSame(current, held);
    this.describe(events, 'device.updated', id, refresh);
    this.markOnline(events, id, now);
    this.announce(events);
    return held;
  }

  /** Removes a registration (RFC 9176 §5.3.2, or its lifetime ran out); the device row stays, offline. */
  remove(id: string, reason: RemovalReason): boolean {
    const reg = this.store.registrations.get(id);
    if (!reg) return false;
    this.store.write(() => {
      this.store.registrations.remove(id);
      this.index.delete(reg);
    });
    this.held -= this.sizeOf(reg);
    this.changes++;
    const device = this.store.devices.get(id);
    if (!device) return true;
    const removed = { device: this.store.info(device), reason };
    const events: Announcement[] = [() => this.bus.emit('device.removed', removed)];
    const offline = this.store.devices.setStatus(id, 'offline');
    if (offline) {
      const payload = { device: this.store.info(offline) };
      events.push(() => this.bus.emit('device.offline', payload));
    }
    this.announce(events);
    return true;
  }

  /** Removes every registration whose lifetime ran out; returns how many. */
  expire(now = Date.now()): number {
    const expired = this.store.registrations.expired(now);
    for (const reg of expired) {
      this.log.info({ device: reg.deviceId, ep: reg.ep }, 'registration expired');
      this.remove(reg.deviceId, 'expired');
    }
    return expired.length;
  }

  /**
   * A device found by multicast or mDNS (no `ep`): matched by its address, given a registration marked
   * `discovered` with its device id as `ep`. A device that registered itself keeps its own registration.
   */
  registerDiscovered(
    host: string,
    port: number,
    links: Link[],
    lifetimeSeconds: number,
    now = Date.now(),
  ): DiscoveredResult {
    const source = { host: unmapHost(host), port };
    const known = this.store.devices.findByAddress(source.host, port);
    const previous = known && this.get(known.id, now);
    if (previous && !previous.discovered) return { ok: true, deviceId: previous.deviceId };
    if (!previous && this.count() >= this.config.limits.maxRegistrations) return { ok: false, error: 'directory full' };
    const replaced = known && this.store.registrations.get(known.id);
    const sized = { ep: known?.ep ?? '', d: null, base: baseOf(source), et: null, attrs: {}, links };
    let size: number;
    try {
      size = this.admitBytes(sized, replaced);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const reg = this.store.write(() => {
      const device = known ?? this.store.devices.create({ ep: null, d: null, source: 'discovery', ...source }, now);
      const next: Registration = {
        deviceId: device.id,
        ep: device.ep ?? device.id,
        d: device.d,
        base: baseOf(source),
        baseExplicit: false,
        lt: lifetimeSeconds,
        et: null,
        attrs: {},
        links,
        discovered: true,
        createdAt: previous?.createdAt ?? now,
        updatedAt: now,
        expiresAt: now + lifetimeSeconds * 1000,
      };
      return this.put(next, this.store.registrations.get(device.id), size);
    });
    const events: Announcement[] = [];
    this.describe(events, previous ? 'device.updated' : 'device.registered', reg.deviceId);
    this.markOnline(events, reg.deviceId, now);
    this.announce(events);
    return { ok: true, deviceId: reg.deviceId };
  }

  /**
   * Resolves once every change made so far is on disk: an interface answers a change only then, so a device
   * told 2.01 Created never finds its registration lost to a crash (group commit: the store batches the writes
   * of a few milliseconds into one transaction, see docs/architecture.md).
   */
  durable(): Promise<void> {
    return this.store.durable();
  }

  /** Commits the pending writes now, releasing the answers that wait for them (stop() calls it). */
  flush(): void {
    this.store.commit();
  }

  /** docs/design.md "Identity": a device discovered by multicast (no ep yet) is merged when it registers. */
  private discoveredAt(source: Source): Device | undefined {
    const device = this.store.devices.findByAddress(source.host, source.port);
    return device && device.source === 'discovery' && device.ep === null ? device : undefined;
  }

  private moveDevice(device: Device, change: Partial<Pick<Device, 'ep' | 'd' | 'host' | 'port' | 'lastSeen'>>): Device {
    const differs = (Object.keys(change) as (keyof typeof change)[]).some((key) => change[key] !== device[key]);
    return differs ? this.store.devices.update(device.id, change) : device;
  }

  /** Bytes held by the directory now (what maxDirectoryBytes bounds). */
  get bytes(): number {
    return this.held;
  }

  /**
   * A registration over limits.maxRegistrationBytes is 4.13 (RFC 7252 §5.9.2.9: an entity larger than the
   * server is willing to handle); one that would take the directory past limits.maxDirectoryBytes is 5.03
   * with Max-Age, as a directory full by count is (RFC 9176 §5.3).
   */
  private admitBytes(next: Sized, previous: Registration | undefined): number {
    // A lifetime refresh holds the same text as before: its size is known.
    const size =
      previous !== undefined && looksTheSame(previous, next) ? this.sizeOf(previous) : registrationBytes(next);
    const { maxRegistrationBytes, maxDirectoryBytes } = this.config.limits;
    if (size > maxRegistrationBytes) {
      throw new CoapError('4.13', `registration of ${size} bytes (at most ${maxRegistrationBytes})`);
    }
    const after = this.held - (previous ? this.sizeOf(previous) : 0) + size;
    if (after > maxDirectoryBytes) {
      this.log.warn({ ep: next.ep, bytes: size, held: this.held }, 'registration refused: directory byte budget spent');
      throw new CoapError('5.03', 'directory full (bytes)', FULL_RETRY_SECONDS);
    }
    return size;
  }

  private sizeOf(reg: Registration): number {
    let size = this.sizes.get(reg);
    if (size === undefined) this.sizes.set(reg, (size = registrationBytes(reg)));
    return size;
  }

  /** Stores `reg` and returns it as the store holds it (its links shared with equal ones, src/coap/shared-links.ts). */
  private put(reg: Registration, previous: Registration | undefined, size: number): Registration {
    const next = this.store.registrations.put(reg);
    this.sizes.set(next, size);
    this.held += size - (previous ? this.sizeOf(previous) : 0);
    // A lifetime refresh (the common update) changes nothing a lookup shows or the index knows.
    if (previous && looksTheSame(previous, next)) {
      keepRenderings(previous, next);
      return next;
    }
    this.changes++;
    // The index knows only ep and the links' rt (a new base from a new source address leaves it alone).
    if (!(previous && previous.ep === next.ep && previous.links === next.links)) {
      if (previous) this.index.delete(previous);
      this.index.add(next);
    }
    return next;
  }

  private markOnline(events: Announcement[], id: string, now: number): void {
    const online = this.store.devices.setStatus(id, 'online', now);
    if (online) {
      const payload = { device: this.store.info(online) };
      events.push(() => this.bus.emit('device.online', payload));
    }
  }

  /** The event of a change, with the device as it is now. */
  private describe(
    events: Announcement[],
    event: 'device.registered' | 'device.updated',
    id: string,
    refresh = false,
  ): void {
    const device = this.store.devices.get(id);
    if (!device) return;
    const info = this.store.info(device);
    if (event === 'device.updated') events.push(() => this.bus.emit(event, { device: info, refresh }));
    else events.push(() => this.bus.emit(event, { device: info }));
  }

  /**
   * Emits a change's events once its writes are on disk, in the order of the changes: nobody (the Observer, the
   * connector, the hub behind it) acts on a registration a crash could still undo, and no device is contacted
   * before it has its 2.01. A lost batch announces nothing; its requests are answered 5.00 (rd/router.ts).
   */
  private announce(events: Announcement[]): void {
    if (events.length === 0) return;
    this.store.durable().then(
      () => {
        for (const emit of events) emit();
      },
      () => {},
    );
  }
}
