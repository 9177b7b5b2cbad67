import type { Logger } from '../src/log.js';
import type { Directory } from './directory.js';

/**
 * Removes registrations whose lifetime ran out (RFC 9176 §5.3: "lt"), every `intervalSeconds`.
 * Lookups already hide an expired registration before the sweep; the sweep makes it final:
 * store row gone, device offline, events sent.
 */
export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly directory: Directory,
    private readonly intervalSeconds: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.sweep(), this.intervalSeconds * 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  sweep(now = Date.now()): void {
    try {
      this.directory.expire(now);
    } catch (err) {
      this.log.error({ err }, 'expiry sweep failed');
    }
  }
}
