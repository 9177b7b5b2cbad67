import type { Db, WriteBatch } from '../../src/store/index.js';

/** One published event as subscribers receive it: its name and its message text (which carries its seq). */
export interface RetainedEvent {
  seq: number;
  name: string;
  text: string;
}

/**
 * Seqs are reserved in the database ahead of use, at least SEQ_BLOCK beyond the last one handed out: a crash
 * skips the rest of the reservation and never hands a seq out twice, even if the latest extension of the
 * reservation was still in the open write batch (fewer than SEQ_BLOCK events fit in one batch window).
 */
const SEQ_BLOCK = 10_000;

/**
 * The hub's event stream (docs/api.md "Resuming"): every published event gets the next seq, and the last
 * `capacity` events are kept, in memory and in the hub's database, so a subscriber that reconnects (after
 * its own outage or the hub's restart) can ask for what it missed. Seqs only grow, with holes after a restart;
 * what a subscriber did not get and the window no longer holds is reported as a gap, never skipped silently.
 * Writes are batched: one transaction per turn of the event loop.
 */
export class RetainedEvents {
  private readonly window: RetainedEvent[] = [];
  private readonly pending: RetainedEvent[] = [];
  private nextSeq: number;
  private reservedUpTo: number;
  private flushScheduled = false;
  private readonly insertStmt;
  private readonly trimStmt;
  private readonly reserveStmt;
  private readonly flushAll: () => void;

  constructor(
    private readonly db: Db,
    private readonly writes: WriteBatch,
    private readonly capacity: number,
  ) {
    const reserved = db.prepare("SELECT value FROM hub_meta WHERE key = 'events.reserved'").pluck().get() as
      string | undefined;
    this.reservedUpTo = Number(reserved ?? 0);
    this.nextSeq = this.reservedUpTo + 1;
    const rows = db
      .prepare('SELECT seq, name, message AS text FROM events ORDER BY seq DESC LIMIT ?')
      .all(capacity) as RetainedEvent[];
    this.window.push(...rows.reverse());
    this.insertStmt = db.prepare('INSERT INTO events (seq, name, message) VALUES (?, ?, ?)');
    this.trimStmt = db.prepare('DELETE FROM events WHERE seq < ?');
    this.reserveStmt = db.prepare(
      "INSERT INTO hub_meta (key, value) VALUES ('events.reserved', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    this.flushAll = () =>
      writes.write(() => {
        for (const event of this.pending) this.insertStmt.run(event.seq, event.name, event.text);
        this.pending.length = 0;
        const first = this.window[0]?.seq;
        if (first !== undefined) this.trimStmt.run(first);
      });
    // The first reservation of this run is on disk before any seq of it is handed out.
    this.reserve();
    writes.commit();
  }

  private reserve(): void {
    this.reservedUpTo = this.nextSeq + 2 * SEQ_BLOCK;
    const value = String(this.reservedUpTo);
    this.writes.write(() => this.reserveStmt.run(value));
  }

  /** Whether events are kept at all (a window of 0 keeps none). */
  get keeps(): boolean {
    return this.capacity > 0;
  }

  /** The seq of the next event. */
  takeSeq(): number {
    if (this.nextSeq + SEQ_BLOCK > this.reservedUpTo) this.reserve();
    return this.nextSeq++;
  }

  /** Keeps an event (its seq from takeSeq) in the window. */
  keep(event: RetainedEvent): void {
    if (this.capacity === 0) return;
    this.window.push(event);
    if (this.window.length > this.capacity) this.window.shift();
    this.pending.push(event);
    this.scheduleFlush();
  }

  /** The seq of the latest event (0 before the first). */
  get last(): number {
    return this.nextSeq - 1;
  }

  /**
   * Events after `after`, oldest first, and the seqs missed that the window no longer holds (a subscriber
   * resuming from `after`). Seqs skipped by a restart are no gap: no event ever had them.
   */
  since(after: number): { events: RetainedEvent[]; gap: { from: number; to: number } | undefined } {
    const first = this.window[0]?.seq ?? this.nextSeq;
    // Only a full window has dropped events (older than its first); before that, a lower seq is a restart's hole.
    const full = this.window.length >= this.capacity;
    const gap = after + 1 < first && full ? { from: after + 1, to: first - 1 } : undefined;
    const start = this.window.findIndex((event) => event.seq > after);
    return { events: start < 0 ? [] : this.window.slice(start), gap };
  }

  flush(): void {
    if (this.pending.length > 0) this.flushAll();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.db.open) this.flush();
    });
  }
}
