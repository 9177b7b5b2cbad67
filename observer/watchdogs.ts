/** What a watchdog guards: told once its deadline passes without a re-arm. */
export interface Watched {
  quiet(): void;
}

interface Deadlines {
  /** Watched → deadline (performance.now() ms), in deadline order: every entry of one list has the same length. */
  entries: Map<Watched, number>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Many deadlines of few distinct lengths (every observation's quiet-stream watchdog: its Max-Age plus a margin)
 * on one Node timer per length. A `setTimeout` per observation kept a Timeout object, its closure and context
 * (some 270 bytes) per observed resource for as long as the device was registered; here one is a map entry.
 * Re-arming moves an entry to the end of its length's map, so each map stays in deadline order, as Node's
 * own timer lists do (one list per duration, nodejs/node lib/internal/timers.js).
 */
export class Watchdogs {
  private readonly lists = new Map<number, Deadlines>();

  /** Arms (or re-arms) `watched` to be told `ms` from now; disarm() takes the same `ms`. */
  arm(watched: Watched, ms: number): void {
    let list = this.lists.get(ms);
    if (list === undefined) this.lists.set(ms, (list = { entries: new Map(), timer: undefined }));
    list.entries.delete(watched);
    // Whole milliseconds stay small integers in the map, not a heap number per entry.
    list.entries.set(watched, Math.ceil(performance.now() + ms));
    list.timer ??= this.schedule(ms, list, ms);
  }

  disarm(watched: Watched, ms: number): void {
    const list = this.lists.get(ms);
    if (list === undefined || !list.entries.delete(watched) || list.entries.size > 0) return;
    clearTimeout(list.timer);
    this.lists.delete(ms);
  }

  private schedule(ms: number, list: Deadlines, delayMs: number): NodeJS.Timeout {
    return setTimeout(() => this.expire(ms, list), delayMs);
  }

  /**
   * Tells every entry whose deadline passed, oldest first, then waits for the next. libuv measures timers from
   * the loop's cached time, which lags under load: a timer that fires early finds nothing due and waits again.
   */
  private expire(ms: number, list: Deadlines): void {
    list.timer = undefined;
    const now = performance.now();
    for (const [watched, deadline] of list.entries) {
      if (deadline > now) {
        // A watched re-armed above may have started a timer for a whole length: the head is due sooner.
        clearTimeout(list.timer);
        list.timer = this.schedule(ms, list, Math.ceil(deadline - now));
        return;
      }
      list.entries.delete(watched);
      // May re-arm `watched` (it goes last, with a later deadline) or others.
      watched.quiet();
    }
    if (list.entries.size === 0 && this.lists.get(ms) === list) this.lists.delete(ms);
  }
}
