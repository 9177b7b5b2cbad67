import type { Command, QueuedCommand, QueuedStatus, StoredResult } from '../command.js';
import type { Db } from './sqlite.js';
import type { WriteBatch } from './write-batch.js';

interface CommandRow {
  seq: number;
  id: string;
  device_id: string;
  request: string;
  status: QueuedStatus;
  result: string | null;
  created_at: number;
  expires_at: number;
  updated_at: number;
}

/** A command as JSON: its payload bytes as base64. */
type StoredCommand = Omit<Command, 'payload'> & { payload?: string };

function fromRow(row: CommandRow): QueuedCommand {
  const stored = JSON.parse(row.request) as StoredCommand;
  const command: Command = { ...stored, payload: undefined };
  if (stored.payload === undefined) delete command.payload;
  else command.payload = Buffer.from(stored.payload, 'base64');
  return {
    id: row.id,
    command,
    status: row.status,
    ...(row.result !== null && { result: JSON.parse(row.result) as StoredResult }),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Queued commands (DESIGN.md "Sleepy devices"): rows in the gateway's SQLite, so they survive a restart;
 * delivered per device in the order they were queued (`seq`). Finished rows stay a while so a repeated
 * command id is recognised and a status can still be read; `prune` removes them.
 */
export class CommandRepository {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly nextStmt;
  private readonly pendingStmt;
  private readonly countDeviceStmt;
  private readonly countStmt;
  private readonly setStmt;
  private readonly withStatusStmt;
  private readonly expiredStmt;
  private readonly pruneStmt;
  /**
   * Queued commands per device, mirrored in memory: every sign of life of every device asks whether one waits
   * (queued-commands.ts), and almost always none does; that answer costs no query.
   */
  private readonly queuedPerDevice = new Map<string, number>();

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    const counts = db
      .prepare("SELECT device_id AS device, count(*) AS n FROM commands WHERE status = 'queued' GROUP BY device_id")
      .all() as { device: string; n: number }[];
    for (const { device, n } of counts) this.queuedPerDevice.set(device, n);
    this.insertStmt = db.prepare(
      `INSERT INTO commands (id, device_id, request, status, created_at, expires_at, updated_at)
       VALUES (?, ?, ?, 'queued', ?, ?, ?)`,
    );
    this.getStmt = db.prepare('SELECT * FROM commands WHERE id = ?');
    this.nextStmt = db.prepare("SELECT * FROM commands WHERE device_id = ? AND status = 'queued' ORDER BY seq LIMIT 1");
    this.pendingStmt = db.prepare(
      "SELECT * FROM commands WHERE device_id = ? AND status IN ('queued', 'sent') ORDER BY seq",
    );
    this.countDeviceStmt = db
      .prepare("SELECT count(*) FROM commands WHERE device_id = ? AND status IN ('queued', 'sent')")
      .pluck();
    this.countStmt = db.prepare("SELECT count(*) FROM commands WHERE status IN ('queued', 'sent')").pluck();
    this.setStmt = db.prepare('UPDATE commands SET status = ?, result = ?, updated_at = ? WHERE id = ?');
    this.withStatusStmt = db.prepare('SELECT * FROM commands WHERE status = ? ORDER BY seq');
    this.expiredStmt = db.prepare("SELECT * FROM commands WHERE status = 'queued' AND expires_at <= ? ORDER BY seq");
    this.pruneStmt = db.prepare("DELETE FROM commands WHERE status NOT IN ('queued', 'sent') AND updated_at < ?");
  }

  /** Queues `command` under `id`; false when that id is already known (a repeat: nothing changes). */
  add(id: string, command: Command, expiresAt: number, now = Date.now()): boolean {
    if (this.getStmt.get(id) !== undefined) return false;
    const stored: StoredCommand = { ...command, payload: command.payload?.toString('base64') };
    this.writes.write(() => this.insertStmt.run(id, command.device, JSON.stringify(stored), now, expiresAt, now));
    this.countQueued(command.device, +1);
    return true;
  }

  get(id: string): QueuedCommand | undefined {
    const row = this.getStmt.get(id) as CommandRow | undefined;
    return row && fromRow(row);
  }

  /** The device's oldest command still waiting, if any. */
  next(deviceId: string): QueuedCommand | undefined {
    if (!this.queuedPerDevice.has(deviceId)) return undefined;
    const row = this.nextStmt.get(deviceId) as CommandRow | undefined;
    // A count that outlived its rows (a change rolled back after it was counted) is dropped when found out.
    if (row === undefined) this.queuedPerDevice.delete(deviceId);
    return row && fromRow(row);
  }

  /** The device's commands waiting or on their way, oldest first. */
  pending(deviceId: string): QueuedCommand[] {
    return (this.pendingStmt.all(deviceId) as CommandRow[]).map(fromRow);
  }

  /** Commands waiting or on their way: of one device, or of all. */
  pendingCount(deviceId?: string): number {
    return (deviceId === undefined ? this.countStmt.get() : this.countDeviceStmt.get(deviceId)) as number;
  }

  withStatus(status: QueuedStatus): QueuedCommand[] {
    return (this.withStatusStmt.all(status) as CommandRow[]).map(fromRow);
  }

  /** Waiting commands whose ttl ran out at `now`. */
  expired(now = Date.now()): QueuedCommand[] {
    return (this.expiredStmt.all(now) as CommandRow[]).map(fromRow);
  }

  /** Moves a command on; returns it as it now is. */
  set(id: string, status: QueuedStatus, result?: StoredResult, now = Date.now()): QueuedCommand | undefined {
    const before = this.getStmt.get(id) as CommandRow | undefined;
    this.writes.write(() => this.setStmt.run(status, result === undefined ? null : JSON.stringify(result), now, id));
    if (before !== undefined && (before.status === 'queued') !== (status === 'queued')) {
      this.countQueued(before.device_id, status === 'queued' ? +1 : -1);
    }
    return this.get(id);
  }

  private countQueued(deviceId: string, by: number): void {
    const count = (this.queuedPerDevice.get(deviceId) ?? 0) + by;
    if (count > 0) this.queuedPerDevice.set(deviceId, count);
    else this.queuedPerDevice.delete(deviceId);
  }

  /** Forgets finished commands last changed before `before`; returns how many. */
  prune(before: number): number {
    return this.writes.write(() => this.pruneStmt.run(before).changes);
  }
}
