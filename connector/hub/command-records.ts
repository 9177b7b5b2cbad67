import type { Db } from '../../src/store/index.js';
import type { CommandStatusFrame } from '../protocol/index.js';

/** A queued command as the platform reads it (docs/api.md "Queued commands"). */
export interface CommandRecord {
  id: string;
  gateway: string;
  device: string;
  method: string;
  path: string;
  status: CommandStatusFrame['status'];
  result?: CommandStatusFrame['result'];
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
}

interface CommandRow {
  id: string;
  gateway: string;
  device: string;
  method: string;
  path: string;
  status: CommandStatusFrame['status'];
  result: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

const PENDING = "('queued', 'sent')";
/** Finished commands the hub keeps readable: a week, as the gateway's own queue keeps them a day by default. */
const KEEP_FINISHED_MS = 7 * 86_400_000;
/** How often (in applied statuses) finished records past KEEP_FINISHED_MS are removed. */
const PRUNE_EVERY = 500;

function fromRow(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    gateway: row.gateway,
    device: row.device,
    method: row.method,
    path: row.path,
    status: row.status,
    ...(row.result !== null && { result: JSON.parse(row.result) as CommandRecord['result'] }),
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The hub's copy of every queued command's latest status, from the gateways' `command_status` frames: the
 * gateway holds the queue, the hub answers `GET /v1/commands/:id` for it, across hub restarts. A status older
 * than the one held (a resent frame) never overwrites a newer one.
 */
export class CommandRecords {
  private readonly upsertStmt;
  private readonly getStmt;
  private readonly byDeviceStmt;
  private readonly pendingByDeviceStmt;
  private readonly pruneStmt;
  private applied = 0;

  constructor(
    db: Db,
    private readonly keepFinishedMs = KEEP_FINISHED_MS,
  ) {
    this.upsertStmt = db.prepare(
      `INSERT INTO commands (id, gateway, device, method, path, status, result, expires_at, created_at, updated_at)
       VALUES (@id, @gateway, @device, @method, @path, @status, @result, @expiresAt, @ts, @ts)
       ON CONFLICT (id) DO UPDATE SET gateway = @gateway, status = @status, result = @result,
         expires_at = @expiresAt, updated_at = @ts
       WHERE excluded.updated_at >= commands.updated_at`,
    );
    this.getStmt = db.prepare('SELECT * FROM commands WHERE id = ?');
    this.byDeviceStmt = db.prepare('SELECT * FROM commands WHERE device = ? ORDER BY created_at, rowid');
    this.pendingByDeviceStmt = db.prepare(
      `SELECT * FROM commands WHERE device = ? AND status IN ${PENDING} ORDER BY created_at, rowid`,
    );
    this.pruneStmt = db.prepare(`DELETE FROM commands WHERE status NOT IN ${PENDING} AND updated_at < ?`);
  }

  /** Applies a gateway's status frame; returns the record as it now stands. */
  apply(gateway: string, frame: CommandStatusFrame): CommandRecord {
    this.upsertStmt.run({
      id: frame.id,
      gateway,
      device: frame.device,
      method: frame.method,
      path: frame.path,
      status: frame.status,
      result: frame.result === undefined ? null : JSON.stringify(frame.result),
      expiresAt: frame.expiresAt,
      ts: frame.ts,
    });
    if (++this.applied % PRUNE_EVERY === 0) this.pruneStmt.run(Date.now() - this.keepFinishedMs);
    return this.get(frame.id)!;
  }

  get(id: string): CommandRecord | undefined {
    const row = this.getStmt.get(id) as CommandRow | undefined;
    return row && fromRow(row);
  }

  /** A device's commands, oldest first: those still pending, or every one the hub holds. */
  forDevice(device: string, all = false): CommandRecord[] {
    return ((all ? this.byDeviceStmt : this.pendingByDeviceStmt).all(device) as CommandRow[]).map(fromRow);
  }
}

export const isPending = (record: CommandRecord): boolean => record.status === 'queued' || record.status === 'sent';
