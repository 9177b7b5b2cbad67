import type { Db } from './sqlite.js';
import type { WriteBatch } from './write-batch.js';
import type { Device, DeviceSource, DeviceStatus } from './types.js';
import { ColumnUpdate } from './column-update.js';
import { newId } from './ids.js';
import { addressKey } from '../coap/peer.js';

interface DeviceRow {
  id: string;
  ep: string | null;
  d: string | null;
  host: string;
  port: number;
  status: number;
  source: string;
  created_at: number;
  last_seen: number;
}

function fromRow(row: DeviceRow): Device {
  return {
    id: row.id,
    ep: row.ep,
    d: row.d,
    host: row.host,
    port: row.port,
    status: row.status === 1 ? 'online' : 'offline',
    source: row.source as DeviceSource,
    createdAt: row.created_at,
    lastSeen: row.last_seen,
  };
}

export interface NewDevice {
  ep: string | null;
  d: string | null;
  host: string;
  port: number;
  source: DeviceSource;
}

/** Devices and their identity (docs/design.md "Identity"). Every row is mirrored in memory: reads never touch SQLite. */
export class DeviceRepository {
  private readonly byId = new Map<string, Device>();
  private readonly byEndpoint = new Map<string, Device>();
  private readonly byAddress = new Map<string, Device>();
  private readonly insertStmt;
  private readonly updateColumns;
  private readonly deleteStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    for (const row of db.prepare('SELECT * FROM devices').all() as DeviceRow[]) {
      this.index(fromRow(row));
    }
    this.insertStmt = db.prepare(
      'INSERT INTO devices (id, ep, d, host, port, status, source, created_at, last_seen) VALUES (@id, @ep, @d, @host, @port, @status, @source, @createdAt, @lastSeen)',
    );
    this.updateColumns = new ColumnUpdate(db, 'devices', 'id');
    this.deleteStmt = db.prepare('DELETE FROM devices WHERE id = ?');
  }

  get(id: string): Device | undefined {
    return this.byId.get(id);
  }

  list(): Device[] {
    return [...this.byId.values()];
  }

  count(): number {
    return this.byId.size;
  }

  findByEndpoint(d: string | null, ep: string): Device | undefined {
    return this.byEndpoint.get(endpointKey(d, ep));
  }

  /** The device last seen at that address (several may share one after address reuse). */
  findByAddress(host: string, port: number): Device | undefined {
    return this.byAddress.get(addressKey(host, port));
  }

  create(fields: NewDevice, now = Date.now()): Device {
    const device: Device = { id: newId(), status: 'online', createdAt: now, lastSeen: now, ...fields };
    this.writes.write(() => this.insertStmt.run(toParams(device)));
    this.index(device);
    return device;
  }

  /** Applies a change and returns the new device; the columns that changed are written in the same call. */
  update(id: string, change: Partial<Omit<Device, 'id' | 'createdAt'>>): Device {
    const current = this.byId.get(id);
    if (!current) throw new Error(`no device ${id}`);
    const next: Device = { ...current, ...change };
    const changed: Record<string, unknown> = {};
    for (const [field, column] of UPDATABLE) {
      if (next[field] !== current[field]) changed[column] = field === 'status' ? statusValue(next.status) : next[field];
    }
    this.writes.write(() => this.updateColumns.run(id, changed));
    this.unindex(current);
    this.index(next);
    return next;
  }

  /** Sets the status; returns the device when it changed, undefined when it was already so. */
  setStatus(id: string, status: DeviceStatus, now = Date.now()): Device | undefined {
    const current = this.byId.get(id);
    if (!current || current.status === status) return undefined;
    return this.update(id, status === 'online' ? { status, lastSeen: now } : { status });
  }

  remove(id: string): boolean {
    const current = this.byId.get(id);
    if (!current) return false;
    this.writes.write(() => this.deleteStmt.run(id));
    this.unindex(current);
    return true;
  }

  private index(device: Device): void {
    this.byId.set(device.id, device);
    if (device.ep !== null) this.byEndpoint.set(endpointKey(device.d, device.ep), device);
    this.byAddress.set(addressKey(device.host, device.port), device);
  }

  private unindex(device: Device): void {
    this.byId.delete(device.id);
    if (device.ep !== null && this.byEndpoint.get(endpointKey(device.d, device.ep)) === device) {
      this.byEndpoint.delete(endpointKey(device.d, device.ep));
    }
    if (this.byAddress.get(addressKey(device.host, device.port)) === device) {
      this.byAddress.delete(addressKey(device.host, device.port));
    }
  }
}

function endpointKey(d: string | null, ep: string): string {
  return `${d ?? ''}\u0000${ep}`;
}

/** Fields an update may change, with their columns. */
const UPDATABLE = [
  ['ep', 'ep'],
  ['d', 'd'],
  ['host', 'host'],
  ['port', 'port'],
  ['status', 'status'],
  ['source', 'source'],
  ['lastSeen', 'last_seen'],
] as const;

function toParams(device: Device): Record<string, unknown> {
  return { ...device, status: statusValue(device.status) };
}

function statusValue(status: DeviceStatus): number {
  return status === 'online' ? 1 : 0;
}
