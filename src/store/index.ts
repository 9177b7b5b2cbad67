import { BackgroundCheckpointer } from './checkpointer.js';
import { CommandRepository } from './commands.js';
import { DeviceRepository } from './devices.js';
import { GroupRepository } from './groups.js';
import { migrations } from './migrations.js';
import { Outbox } from './outbox.js';
import { RegistrationRepository } from './registrations.js';
import { newId } from './ids.js';
import { openDatabase, type Db } from './sqlite.js';
import { defaultSleepyRules, SleepyClassifier } from './sleepy.js';
import { WriteBatch } from './write-batch.js';
import { silentLogger, type Logger } from '../log.js';
import { formatAddress } from '../coap/peer.js';
import type { Device, DeviceInfo } from './types.js';

export * from './types.js';
export {
  SleepyClassifier,
  defaultSleepyRules,
  DEFAULT_AWAKE_WINDOW_SECONDS,
  SLEEPY_ATTRIBUTE,
  type SleepyRules,
} from './sleepy.js';
export { openDatabase, type Db, type Migration } from './sqlite.js';
export { BackgroundCheckpointer } from './checkpointer.js';
export { newId } from './ids.js';
export { WriteBatch, BATCH_WINDOW_MS, BATCH_FULL_CHANGES } from './write-batch.js';
export type { DeviceRepository, NewDevice } from './devices.js';
export type { RegistrationRepository } from './registrations.js';
export type { GroupRepository } from './groups.js';
export type { Outbox } from './outbox.js';
export type { CommandRepository } from './commands.js';

export interface StoreOptions {
  /** SQLite file, or ':memory:'. */
  file: string;
  /** Bound of the upstream outbox (entries). */
  outboxMax?: number;
  /**
   * Checkpoint the WAL from a worker thread (the gateway, under registration load), instead of on the
   * writing connection, where each checkpoint's fsync stalls the event loop. Off for short-lived uses (CLI, tests).
   */
  backgroundCheckpoints?: boolean;
  /** Where a failed commit is reported. */
  log?: Logger;
  /** Which devices sleep (config `sleepy`); without it, only what registrations say (LwM2M `Q`, `sleepy`). */
  sleepy?: SleepyClassifier;
}

/**
 * The gateway's one store: devices, registrations, groups and the outbox in one SQLite file.
 * Components depend on this interface (Leshan's services-over-stores), never on SQL, and never on transactions:
 * every write joins the store's open batch (group commit, see write-batch.ts and docs/architecture.md), and
 * whoever must not act before a write is on disk (a reply to the device, a frame to the hub) awaits `durable()`
 * or calls `commit()`.
 */
export class Store {
  private readonly db: Db;
  private readonly writes: WriteBatch;
  readonly devices: DeviceRepository;
  readonly registrations: RegistrationRepository;
  readonly groups: GroupRepository;
  readonly outbox: Outbox;
  readonly commands: CommandRepository;
  /** The one rule every component asks whether a device sleeps and how long it stays awake. */
  readonly sleepy: SleepyClassifier;
  /**
   * This store's own id, made when the file is first opened: what tells the platform two gateways configured
   * with the same gateway id apart (their seq streams are different streams).
   */
  readonly instance: string;
  private readonly checkpointer: BackgroundCheckpointer | undefined;

  constructor(options: StoreOptions) {
    this.db = openDatabase(options.file, migrations);
    if (options.backgroundCheckpoints && options.file !== ':memory:') {
      this.checkpointer = new BackgroundCheckpointer(options.file);
    }
    this.writes = new WriteBatch(this.db, options.log ?? silentLogger());
    this.devices = new DeviceRepository(this.db, this.writes);
    this.registrations = new RegistrationRepository(this.db, this.writes);
    this.groups = new GroupRepository(this.db, this.writes);
    this.outbox = new Outbox(this.db, this.writes, options.outboxMax ?? 100_000);
    this.commands = new CommandRepository(this.db, this.writes);
    this.sleepy = options.sleepy ?? new SleepyClassifier(defaultSleepyRules);
    this.instance = this.instanceId();
  }

  private instanceId(): string {
    const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'store.instance'").pluck().get() as
      string | undefined;
    if (stored !== undefined) return stored;
    const made = newId();
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('store.instance', ?)").run(made);
    return made;
  }

  /** Runs `change` as one atomic change (all of its writes land, or none) in the open batch. */
  write<T>(change: () => T): T {
    return this.writes.write(change);
  }

  /** Resolves once every write made so far is on disk (at the latest one batch window from now). */
  durable(): Promise<void> {
    return this.writes.durable();
  }

  /** The explicit durability point: commits the open batch now; false if the commit failed (it is retried). */
  commit(): boolean {
    return this.writes.commit();
  }

  /** Removes a device with everything that hangs off it (registration, group memberships). */
  removeDevice(id: string): void {
    this.write(() => {
      this.registrations.remove(id);
      this.groups.forgetDevice(id);
      this.devices.remove(id);
    });
  }

  /** What events and the platform see of a device. */
  info(device: Device): DeviceInfo {
    const reg = this.registrations.get(device.id);
    return {
      id: device.id,
      ep: device.ep ?? reg?.ep ?? null,
      d: device.d,
      address: formatAddress(device.host, device.port),
      status: device.status,
      source: device.source,
      registered: reg !== undefined,
      lastSeen: device.lastSeen,
      // A copy of the array: the registration's is shared and frozen (src/coap/shared-links.ts), the link protocol's is not.
      resources: reg ? [...reg.links] : [],
      registration: reg
        ? {
            base: reg.base,
            lt: reg.lt,
            et: reg.et,
            attrs: reg.attrs,
            updatedAt: reg.updatedAt,
            expiresAt: reg.expiresAt,
          }
        : null,
      sleepy: this.isSleepy(device.id),
    };
  }

  /** Whether the device sleeps between awake windows (its registration or the configuration says so). */
  isSleepy(id: string): boolean {
    return this.sleepy.isSleepy(this.registrations.get(id));
  }

  /** False once closed. */
  get open(): boolean {
    return this.db.open;
  }

  /** Commits what is pending, then closes the file. */
  close(): void {
    if (this.db.open) this.writes.commit();
    void this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }
}
