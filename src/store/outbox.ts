import type { Db } from './sqlite.js';
import type { WriteBatch } from './write-batch.js';
import type { OutboxEntry } from './types.js';

interface OutboxRow {
  seq: number;
  kind: 'event' | 'telemetry';
  name: string;
  device_id: string | null;
  body: string;
  created_at: number;
}

/**
 * The durable queue of upstream frames (mqtt.js's in-flight store): every event and telemetry value
 * is appended with its seq before it is sent, and trimmed only when the platform acks it.
 * Bounded: past `maxEntries`, the oldest telemetry goes first; device events are never dropped.
 */
export class Outbox {
  private readonly appendStmt;
  private readonly ackStmt;
  private readonly pageStmt;
  private readonly countStmt;
  private readonly dropTelemetryStmt;
  private readonly lastSeqStmt;
  private size: number;
  private droppedCount: number;

  constructor(
    private readonly db: Db,
    private readonly writes: WriteBatch,
    private readonly maxEntries: number,
  ) {
    this.appendStmt = db.prepare(
      'INSERT INTO outbox (kind, name, device_id, body, created_at) VALUES (?, ?, ?, ?, ?) RETURNING seq',
    );
    this.ackStmt = db.prepare('DELETE FROM outbox WHERE seq <= ?');
    this.pageStmt = db.prepare('SELECT * FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?');
    this.countStmt = db.prepare('SELECT count(*) FROM outbox').pluck();
    this.dropTelemetryStmt = db.prepare(
      "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind = 'telemetry' ORDER BY seq LIMIT ?)",
    );
    // AUTOINCREMENT keeps seq growing across acks and restarts; sqlite_sequence holds the high mark.
    this.lastSeqStmt = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").pluck();
    this.size = this.countStmt.get() as number;
    const dropped = db.prepare("SELECT value FROM meta WHERE key = 'outbox.dropped'").pluck().get() as
      string | undefined;
    this.droppedCount = dropped ? Number(dropped) : 0;
  }

  append(
    kind: OutboxEntry['kind'],
    name: string,
    deviceId: string | null,
    body: unknown,
    now = Date.now(),
  ): OutboxEntry {
    return this.writes.write(() => {
      if (this.size >= this.maxEntries) this.makeRoom();
      const seq = (this.appendStmt.get(kind, name, deviceId, JSON.stringify(body), now) as { seq: number }).seq;
      this.size++;
      return { seq, kind, name, deviceId, body, createdAt: now };
    });
  }

  /** Cumulative ack: everything up to and including `seq` has reached the platform. */
  ackUpTo(seq: number): void {
    const removed = this.writes.write(() => this.ackStmt.run(seq).changes);
    this.size -= removed;
  }

  /** Unacked entries after `afterSeq`, oldest first, at most `limit`. */
  unacked(afterSeq = 0, limit = 500): OutboxEntry[] {
    return (this.pageStmt.all(afterSeq, limit) as OutboxRow[]).map((row) => ({
      seq: row.seq,
      kind: row.kind,
      name: row.name,
      deviceId: row.device_id,
      body: JSON.parse(row.body) as unknown,
      createdAt: row.created_at,
    }));
  }

  count(): number {
    return this.size;
  }

  /** Telemetry values dropped because the outbox was full, since the database was created. */
  dropped(): number {
    return this.droppedCount;
  }

  lastSeq(): number {
    return (this.lastSeqStmt.get() as number | undefined) ?? 0;
  }

  /**
   * Continues numbering after `seq`, for a platform that already holds seqs this outbox never issued (the
   * database was replaced under the same gateway id): it would drop every new entry as a duplicate.
   * Entries still waiting are appended again after it, in their order.
   */
  continueAfter(seq: number): void {
    if (seq <= this.lastSeq()) return;
    const waiting = this.unacked(0, this.size);
    this.writes.write(() => {
      // sqlite_sequence has no key on name: insert its row only where no append made one yet.
      this.db
        .prepare(
          "INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox')",
        )
        .run();
      this.db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'").run(seq);
      this.db.prepare('DELETE FROM outbox').run();
      this.size = 0;
      for (const entry of waiting) this.append(entry.kind, entry.name, entry.deviceId, entry.body, entry.createdAt);
    });
  }

  private makeRoom(): void {
    // Drop a tenth at a time so a full outbox does not pay a DELETE per append.
    const excess = this.size - this.maxEntries + 1;
    const batch = Math.max(excess, Math.ceil(this.maxEntries / 10));
    const removed = this.dropTelemetryStmt.run(batch).changes;
    if (removed === 0) return;
    this.size -= removed;
    this.droppedCount += removed;
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('outbox.dropped', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(String(this.droppedCount));
  }
}
