import type { Logger } from '../src/log.js';
import type { Db } from '../src/store/index.js';

/** The longest a change waits for its commit. */
const GROUP_COMMIT_MS = 5;

/**
 * Group commit: the writes of a few milliseconds join one SQLite transaction. A commit costs far
 * more than the rows it carries (about 80 µs here, against a few µs per row), and at thousands of
 * registrations per second datagrams arrive one per event-loop turn, so a per-turn commit would
 * still be one per registration. The price: a crash within GROUP_COMMIT_MS loses registrations
 * already answered; those devices re-register on the 4.04 of their next update (RFC 9176 §5.3.1).
 * Writes of other components made meanwhile on the same connection join the transaction.
 */
export class GroupCommit {
  private timer: NodeJS.Timeout | undefined;
  /** One change, all or nothing (a savepoint inside the open transaction); built once, not per call. */
  private readonly atomic: (change: () => unknown) => unknown;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.atomic = db.transaction((change: () => unknown) => change());
  }

  write<T>(change: () => T): T {
    if (!this.db.inTransaction) {
      this.db.exec('BEGIN');
      this.schedule();
    }
    return this.atomic(change) as T;
  }

  /** Commits the pending writes now (before the store closes). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      try {
        this.flush();
      } catch (err) {
        // SQLite keeps the transaction open when COMMIT fails (e.g. SQLITE_BUSY): try again shortly.
        this.log.error({ err }, 'commit failed; retrying');
        this.schedule();
      }
    }, GROUP_COMMIT_MS);
  }
}
