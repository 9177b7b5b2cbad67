import { BackgroundCheckpointer } from './checkpointer.js';
import { DeviceRepository } from './devices.js';
import { GroupRepository } from './groups.js';
import { migrations } from './migrations.js';
import { Outbox } from './outbox.js';
import { RegistrationRepository } from './registrations.js';
import { openDatabase, type Db } from './sqlite.js';
import type { Device, DeviceInfo } from './types.js';

export * from './types.js';
export { openDatabase, type Db, type Migration } from './sqlite.js';
export { newId } from './ids.js';
export type { DeviceRepository, NewDevice } from './devices.js';
export type { RegistrationRepository } from './registrations.js';
export type { GroupRepository } from './groups.js';
export type { Outbox } from './outbox.js';

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
}

/**
 * The gateway's one store: devices, registrations, groups and the outbox in one SQLite file.
 * Components depend on this interface (Leshan's services-over-stores), never on SQL.
 */
export class Store {
  readonly db: Db;
  readonly devices: DeviceRepository;
  readonly registrations: RegistrationRepository;
  readonly groups: GroupRepository;
  readonly outbox: Outbox;
  private readonly checkpointer: BackgroundCheckpointer | undefined;

  constructor(options: StoreOptions) {
    this.db = openDatabase(options.file, migrations);
    if (options.backgroundCheckpoints && options.file !== ':memory:') {
      this.checkpointer = new BackgroundCheckpointer(options.file);
    }
    this.devices = new DeviceRepository(this.db);
    this.registrations = new RegistrationRepository(this.db);
    this.groups = new GroupRepository(this.db);
    this.outbox = new Outbox(this.db, options.outboxMax ?? 100_000);
  }

  /** Runs `fn` in one SQLite transaction: all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /**
   * Commits a batch another writer left open on this connection (the RD's group commit), so that what
   * follows runs in a transaction of its own, durable when it returns. Only from outside any transaction
   * function (a timer, an I/O callback): the connector calls it before appending outbox entries it is about
   * to send, which must be on disk before the hub sees them, or a crash would hand their seq out twice.
   */
  commitPending(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  /** Removes a device with everything that hangs off it (registration, group memberships). */
  removeDevice(id: string): void {
    this.transaction(() => {
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
      resources: reg?.links ?? [],
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
    };
  }

  close(): void {
    void this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }
}

/** `host:port`, with IPv6 hosts bracketed as in a URI. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
