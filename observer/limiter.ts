/** A place in the Limiter's queue. */
export interface Turn {
  /** Resolves with the release function once a slot is this turn's. */
  granted: Promise<() => void>;
  /**
   * Leaves the queue before the slot came (its `granted` then never resolves). A turn already granted is given up
   * through its release function instead.
   */
  withdraw(): void;
}

/**
 * Bounds how many CoAP exchanges the Observer has in flight: thousands of devices coming back
 * at once must not mean thousands of simultaneous observe requests (RFC 7252 §4.7 congestion control).
 * A freed slot goes to the oldest turn still waiting. Turns that are no longer wanted leave the queue
 * (`withdraw`): when they stayed, each one woke in its turn only to hand the slot on, in the same microtask
 * checkpoint as the next, and 30,000 devices re-observed at once held the event loop for 200 ms.
 */
export class Limiter {
  private active = 0;
  /** Waiting turns in arrival order (a Set: insertion-ordered, and a withdrawal is O(1)). */
  private readonly waiting = new Set<(release: () => void) => void>();

  constructor(private readonly limit: number) {}

  turn(): Turn {
    if (this.active < this.limit) {
      this.active++;
      return { granted: Promise.resolve(this.releaser()), withdraw: () => undefined };
    }
    let grant!: (release: () => void) => void;
    const granted = new Promise<() => void>((resolve) => (grant = resolve));
    this.waiting.add(grant);
    return { granted, withdraw: () => this.waiting.delete(grant) };
  }

  /** Resolves with a release function once a slot is free; release is idempotent. */
  acquire(): Promise<() => void> {
    return this.turn().granted;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.values().next();
      if (next.done === true) {
        this.active--;
        return;
      }
      // The slot passes straight to the next waiter, so `active` stays as it is.
      this.waiting.delete(next.value);
      next.value(this.releaser());
    };
  }
}
