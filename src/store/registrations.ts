import { ColumnUpdate } from './column-update.js';
import type { Db } from './sqlite.js';
import type { WriteBatch } from './write-batch.js';
import type { Attrs, Link } from '../coap/link-format.js';
import { SharedLinks } from '../coap/shared-links.js';
import type { Registration } from './types.js';

interface RegistrationRow {
  device_id: string;
  ep: string;
  d: string | null;
  base: string;
  base_explicit: number;
  lt: number;
  et: string | null;
  attrs: string;
  links: string;
  discovered: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

function fromRow(row: RegistrationRow, lists: SharedLinks): Registration {
  return {
    deviceId: row.device_id,
    ep: row.ep,
    d: row.d,
    base: row.base,
    baseExplicit: row.base_explicit === 1,
    lt: row.lt,
    et: row.et,
    attrs: JSON.parse(row.attrs) as Attrs,
    links: lists.of(JSON.parse(row.links) as Link[]),
    discovered: row.discovered === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
  };
}

function toParams(reg: Registration, links: string): Record<string, unknown> {
  return {
    ...reg,
    baseExplicit: reg.baseExplicit ? 1 : 0,
    discovered: reg.discovered ? 1 : 0,
    attrs: JSON.stringify(reg.attrs),
    links,
  };
}

/** What an update of the same registration changed, as column values (`links`: the new links' JSON, if they changed). */
function changedColumns(current: Registration, next: Registration, links: string | undefined): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  if (next.ep !== current.ep) changed.ep = next.ep;
  if (next.d !== current.d) changed.d = next.d;
  if (next.base !== current.base) changed.base = next.base;
  if (next.baseExplicit !== current.baseExplicit) changed.base_explicit = next.baseExplicit ? 1 : 0;
  if (next.lt !== current.lt) changed.lt = next.lt;
  if (next.et !== current.et) changed.et = next.et;
  if (next.attrs !== current.attrs) changed.attrs = JSON.stringify(next.attrs);
  if (links !== undefined) changed.links = links;
  if (next.discovered !== current.discovered) changed.discovered = next.discovered ? 1 : 0;
  if (next.updatedAt !== current.updatedAt) changed.updated_at = next.updatedAt;
  if (next.expiresAt !== current.expiresAt) changed.expires_at = next.expiresAt;
  return changed;
}

/**
 * RFC 9176 registrations, one per device, keyed by device id (the location `/rd/<id>`).
 * Mirrored in memory in insertion order so lookups never touch SQLite; every write goes through.
 */
export class RegistrationRepository {
  private readonly byDevice = new Map<string, Registration>();
  private readonly lists = new SharedLinks();
  private readonly upsertStmt;
  private readonly updateColumns;
  private readonly deleteStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    for (const row of db.prepare('SELECT * FROM registrations ORDER BY created_at').all() as RegistrationRow[]) {
      this.byDevice.set(row.device_id, fromRow(row, this.lists));
    }
    this.upsertStmt = db.prepare(`
      INSERT INTO registrations (device_id, ep, d, base, base_explicit, lt, et, attrs, links, discovered, created_at, updated_at, expires_at)
      VALUES (@deviceId, @ep, @d, @base, @baseExplicit, @lt, @et, @attrs, @links, @discovered, @createdAt, @updatedAt, @expiresAt)
      ON CONFLICT (device_id) DO UPDATE SET ep = excluded.ep, d = excluded.d, base = excluded.base,
        base_explicit = excluded.base_explicit, lt = excluded.lt, et = excluded.et, attrs = excluded.attrs,
        links = excluded.links, discovered = excluded.discovered, created_at = excluded.created_at,
        updated_at = excluded.updated_at, expires_at = excluded.expires_at`);
    this.updateColumns = new ColumnUpdate(db, 'registrations', 'device_id');
    this.deleteStmt = db.prepare('DELETE FROM registrations WHERE device_id = ?');
  }

  get(deviceId: string): Registration | undefined {
    return this.byDevice.get(deviceId);
  }

  /**
   * The registration of a device while its lifetime runs: docs/design.md "Addresses", a removed or expired
   * registration is not pinged, observed or commanded, even before the expiry sweep has removed it.
   */
  live(deviceId: string, now = Date.now()): Registration | undefined {
    const reg = this.byDevice.get(deviceId);
    return reg !== undefined && reg.expiresAt > now ? reg : undefined;
  }

  /** All registrations, oldest first (the stable order lookups page through). */
  all(): IterableIterator<Registration> {
    return this.byDevice.values();
  }

  count(): number {
    return this.byDevice.size;
  }

  /**
   * Creates or replaces the registration of `reg.deviceId` and returns it as held: with the shared copy of its
   * links when another registration holds equal ones. An update (same `createdAt`) writes only what changed: a
   * lifetime refresh sets two timestamps and leaves the links' JSON alone (links and attrs are compared by
   * reference; a caller that keeps them keeps their row text).
   */
  put(reg: Registration): Registration {
    const current = this.byDevice.get(reg.deviceId);
    let json: string | undefined;
    if (reg.links !== current?.links) {
      const links = this.lists.of(reg.links, current?.links);
      // Equal to the links it holds: the row's text stays as it is.
      if (links !== current?.links) json = JSON.stringify(links);
      if (links !== reg.links) reg = { ...reg, links };
    }
    if (current?.createdAt === reg.createdAt) {
      this.writes.write(() => this.updateColumns.run(reg.deviceId, changedColumns(current, reg, json)));
    } else {
      this.writes.write(() => this.upsertStmt.run(toParams(reg, json ?? JSON.stringify(reg.links))));
      // A replacement keeps its place only if it is an update; a new registration goes last.
      if (current) this.byDevice.delete(reg.deviceId);
    }
    this.byDevice.set(reg.deviceId, reg);
    return reg;
  }

  remove(deviceId: string): Registration | undefined {
    const reg = this.byDevice.get(deviceId);
    if (!reg) return undefined;
    this.writes.write(() => this.deleteStmt.run(deviceId));
    this.byDevice.delete(deviceId);
    return reg;
  }

  /** Registrations whose lifetime ran out at `now`. */
  expired(now = Date.now()): Registration[] {
    const out: Registration[] = [];
    for (const reg of this.byDevice.values()) if (reg.expiresAt <= now) out.push(reg);
    return out;
  }
}
