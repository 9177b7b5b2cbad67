/**
 * Reconnect delays: exponential, capped, with full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter") so a fleet of gateways that lost the same hub does not come back in one wave.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call doubles the ceiling up to `maxMs`. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.attempt);
    if (ceiling < this.maxMs) this.attempt++;
    return Math.round(this.minMs + this.random() * (ceiling - this.minMs));
  }

  /** Straight to the ceiling: for refusals that a quick retry cannot cure (bad credentials). */
  exhaust(): void {
    this.attempt = Math.ceil(Math.log2(this.maxMs / this.minMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}
