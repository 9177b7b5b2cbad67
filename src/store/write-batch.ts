import type { Logger } from '../log.js';
import type { Db } from './sqlite.js';

/** The longest a write waits for the commit that makes it durable, unless someone commits sooner. */
export const BATCH_WINDOW_MS = 5;
/**
 * A batch with this many changes commits at the end of the turn instead of waiting out the window: under a
 * closed-loop load (clients with a few requests outstanding each) the window, not the CPU, bounded the rate
 * (64 outstanding requests each waiting up to 5 ms cap it near 64 / 7 ms), and the CPU sat idle meanwhile.
 */
export const BATCH_FULL_CHANGES = 32;
/** After a failed COMMIT (SQLite keeps the transaction open on SQLITE_BUSY), the next attempt. */
const RETRY_MS = 50;

/**
 * Group commit over one SQLite connection: the writes of a few milliseconds share one transaction, and
 * whoever must not act before its write is on disk waits for that transaction's commit (`durable()`).
 *
 * A commit costs far more than the rows it carries (about 80 µs here, against a few µs per row), and at
 * thousands of registrations per second datagrams arrive one per event-loop turn, so a commit per request
 * (or per turn) would cap the rate at what fsync-less WAL appends allow. This is the textbook group commit
 * (PostgreSQL's `commit_delay`, InnoDB's binlog group commit): batching the commit, never acknowledging
 * before it. With `synchronous=NORMAL` in WAL mode a commit survives a process crash once COMMIT returns
 * (https://www.sqlite.org/pragma.html#pragma_synchronous).
 *
 * Each `write(change)` is atomic on its own (a savepoint inside the batch): a change that throws leaves
 * nothing behind and the batch goes on. Writes made inside a change join it.
 */
export class WriteBatch {
  private timer: NodeJS.Timeout | undefined;
  private early: NodeJS.Immediate | undefined;
  private changes = 0;
  /** A failed COMMIT is being retried: its timer alone paces the attempts. */
  private retrying = false;
  private depth = 0;
  /** Settled when the open batch commits (or is lost); undefined while no batch is open. */
  private batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
  private readonly atomic: (change: () => unknown) => unknown;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly windowMs = BATCH_WINDOW_MS,
  ) {
    this.atomic = db.transaction((change: () => unknown) => change());
  }

  /** Runs `change` atomically inside the open batch (opening one); durable once that batch commits. */
  write<T>(change: () => T): T {
    if (this.depth > 0) return change();
    if (this.batch === undefined) this.begin();
    this.depth++;
    try {
      return this.atomic(change) as T;
    } finally {
      this.depth--;
      if (++this.changes >= BATCH_FULL_CHANGES && !this.retrying)
        this.early ??= setImmediate(() => this.db.open && this.commit());
    }
  }

  /** Resolves once everything written so far is on disk; rejects if its batch was lost (the write failed). */
  durable(): Promise<void> {
    return this.batch?.promise ?? Promise.resolve();
  }

  /** True when no write is waiting for its commit. */
  get idle(): boolean {
    return this.batch === undefined;
  }

  /**
   * The explicit durability point: commits the open batch now. True when everything written so far is on disk;
   * false when the commit failed (logged; the batch is retried shortly, or was lost and its waiters rejected).
   */
  commit(): boolean {
    const batch = this.batch;
    if (batch === undefined) return true;
    if (this.depth > 0) throw new Error('commit() inside a write()');
    clearTimeout(this.timer);
    clearImmediate(this.early);
    this.timer = this.early = undefined;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) {
        this.log.error({ err }, 'commit failed; retrying');
        this.retrying = true;
        this.schedule(RETRY_MS);
      } else {
        // SQLite rolled the transaction back (e.g. SQLITE_FULL, SQLITE_IOERR): nothing of the batch landed.
        this.log.error({ err }, 'commit failed; the batch is lost');
        this.batch = undefined;
        this.changes = 0;
        this.retrying = false;
        batch.reject(err);
      }
      return false;
    }
    this.batch = undefined;
    this.changes = 0;
    this.retrying = false;
    batch.resolve();
    return true;
  }

  private begin(): void {
    this.db.exec('BEGIN');
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A batch nobody waits for must not surface as an unhandled rejection.
    promise.catch(() => {});
    this.batch = { promise, resolve, reject };
    this.schedule(this.windowMs);
  }

  private schedule(ms: number): void {
    // A connection closed meanwhile has rolled the batch back; nothing is left to commit.
    this.timer = setTimeout(() => this.db.open && this.commit(), ms);
  }
}
