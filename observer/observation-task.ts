import type { CoapReply, Observation } from '../src/coap/types.js';
import { Poller } from './poll-task.js';
import type { ResourceTarget } from './selection.js';
import type { ResourceTask, TaskContext } from './task.js';

type Ending = Awaited<Observation['ended']>;

/** An observation and a promise settled by its first reply or its end. */
interface Stream {
  observation: Observation;
  answered: Promise<void>;
}

const FIRST_RETRY_MS = 1_000;
// Short and capped: a device that restarted (and forgot its observers, RFC 7641 §4.1) gets its
// telemetry back within seconds; an offline device's tasks are suspended, so nothing retries it.
const MAX_RETRY_MS = 8_000;
/** Slack past Max-Age before a stream counts as quiet: notifications travel and may be retransmitted. */
const QUIET_MARGIN_MIN_MS = 1_000;
const QUIET_MARGIN_FRACTION = 0.2;

/**
 * Observes one resource (RFC 7641). The stream is watched against its Max-Age (§3.3.1: a client
 * whose notification is older than Max-Age may re-register): when it goes quiet the device's
 * liveness is checked at once, and the resource is polled at that interval while the observation
 * is re-established with a short, capped backoff; a poll answered while the device was silent
 * re-observes at once, and the first notification of a new stream ends the polling. A reply
 * without Observe (§3.1) turns the task into polling for good.
 */
export class ObservationTask implements ResourceTask {
  private current: Stream | undefined;
  /** Bumped on every (re)establishment and on stop: callbacks of an older stream are ignored. */
  private generation = 0;
  private stopped = false;
  suspended = false;
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = FIRST_RETRY_MS;
  /** Max-Age of the last notification: how often the resource is polled while the stream is down. */
  private freshnessMs: number;
  /** The establishment slot, held until the first reply or the end of the stream. */
  private releaseSlot: (() => void) | undefined;
  private readonly fallback: Poller;
  /** The stream ended because the device stopped answering (quiet stream, unanswered registration). */
  private silent = false;
  /** The stop of the task this one replaces: part of this task's own stop, see stop(). */
  private predecessor: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: TaskContext,
    readonly target: ResourceTarget,
  ) {
    this.fallback = new Poller(ctx, target, () => this.onPollAnswered());
    this.freshnessMs = ctx.defaultMaxAgeSeconds * 1000;
  }

  start(after: Promise<void> = Promise.resolve()): void {
    this.predecessor = after;
    void after.then(() => this.establish());
  }

  suspend(): void {
    this.suspended = true;
    this.clearTimers();
    this.fallback.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.clearTimers();
    this.fallback.stop();
    this.releaseSlot?.();
    const current = this.current;
    this.current = undefined;
    if (current) await this.retire(current);
    // Stopped before it began, a successor must still wait for the deregistration this task was waiting for.
    await this.predecessor;
  }

  private async establish(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    this.releaseSlot?.();
    const release = await this.ctx.limiter.acquire();
    if (this.stopped || generation !== this.generation) return release();
    // RFC 7641 §3.6/§4.1: deregister the old stream first; a server that keys observers by
    // endpoint could otherwise drop the new registration when the late deregistration arrives.
    const previous = this.current;
    this.current = undefined;
    // Cancelled within this slot: taking a second one could deadlock a full limiter.
    if (previous) await this.retire(previous, false);
    if (this.stopped || generation !== this.generation) return release();
    this.releaseSlot = release;
    const { host, port, path } = this.target;
    try {
      let markAnswered = (): void => undefined;
      const answered = new Promise<void>((resolve) => (markAnswered = resolve));
      const observation = this.ctx.client.observe(
        { host, port, method: 'GET', path, timeoutMs: this.ctx.requestTimeoutMs },
        (reply) => {
          markAnswered();
          this.onNotification(generation, reply);
        },
      );
      this.current = { observation, answered };
      void observation.ended.then((ending) => {
        markAnswered();
        this.onEnded(generation, ending);
      });
    } catch (err) {
      this.onEnded(generation, { reason: 'timeout' }, err);
    }
  }

  private onNotification(generation: number, reply: CoapReply): void {
    if (this.stopped || generation !== this.generation) return;
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    // §3.1: a reply without Observe is the plain GET response; the stream ends as 'not-observable'.
    if (reply.observe === undefined) return;
    this.silent = false;
    // A notification from a device taken offline: it is back (a re-registration still in flight reached it
    // after a restart); the Pinger confirms and brings it online, which re-observes everything else at once.
    if (this.suspended) this.ctx.checkLiveness(this.target.deviceId);
    this.retryDelayMs = FIRST_RETRY_MS;
    clearTimeout(this.retryTimer);
    this.fallback.stop();
    this.ctx.publish(this.target, reply);
    this.armWatchdog(reply.maxAge);
  }

  private onEnded(generation: number, ending: Ending, err?: unknown): void {
    if (this.stopped || generation !== this.generation) return;
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    this.current = undefined;
    clearTimeout(this.watchdog);
    const { log } = this.ctx;
    const where = { device: this.target.deviceId, path: this.target.path };
    switch (ending.reason) {
      case 'cancelled':
        return;
      case 'not-observable': {
        log.info(where, 'resource answered without Observe: polling it instead');
        if (ending.reply) this.ctx.publish(this.target, ending.reply);
        const intervalMs = this.target.intervalSeconds * 1000;
        if (!this.suspended) this.fallback.start(intervalMs, intervalMs);
        return;
      }
      case 'rejected':
        // An error reply (§3.2): the resource is gone or refuses; the next registration tries again.
        log.warn({ ...where, code: ending.reply?.code }, 'observe request rejected');
        this.fallback.stop();
        return;
      default:
        log.info({ ...where, reason: ending.reason, err: (err as Error | undefined)?.message }, 'observation ended');
        if (ending.reason === 'timeout') this.unanswered();
        this.fallBack();
    }
  }

  /** Polls at the freshness interval and schedules the next attempt to observe again. */
  private fallBack(): void {
    if (this.suspended || this.stopped) return;
    this.fallback.start(0, this.freshnessMs);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.establish(), this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_MS);
  }

  private armWatchdog(maxAgeSeconds: number | undefined): void {
    clearTimeout(this.watchdog);
    if (this.suspended) return;
    // Max-Age 0 (or none) gives no freshness to go by: the configured default applies (RFC 7252 §5.10.5 defaults to 60 s).
    const maxAgeMs = (maxAgeSeconds || this.ctx.defaultMaxAgeSeconds) * 1000;
    this.freshnessMs = maxAgeMs;
    const quietMs = maxAgeMs + Math.max(QUIET_MARGIN_MIN_MS, maxAgeMs * QUIET_MARGIN_FRACTION);
    this.watchdog = setTimeout(() => {
      this.ctx.log.info(
        { device: this.target.deviceId, path: this.target.path, quietMs },
        'notifications went quiet: checking the device, polling while re-observing',
      );
      this.unanswered();
      if (!this.stopped) this.fallback.start(0, this.freshnessMs);
      void this.establish();
    }, quietMs);
  }

  /** The device stopped answering: its liveness is checked now, not at the next ping round. */
  private unanswered(): void {
    if (this.stopped || this.suspended) return;
    this.silent = true;
    this.ctx.checkLiveness(this.target.deviceId);
  }

  /** A poll answered after the device was silent: it is back (perhaps restarted), so observe again at once. */
  private onPollAnswered(): void {
    if (!this.silent || this.stopped || this.suspended || this.current !== undefined) return;
    this.silent = false;
    this.retryDelayMs = FIRST_RETRY_MS;
    void this.establish();
  }

  private clearTimers(): void {
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    this.watchdog = undefined;
    this.retryTimer = undefined;
  }

  /**
   * Deregisters a stream (RFC 7641 §3.6). One still registering is first let answer (the client's
   * registration deadline bounds the wait): the device may already list us, and a cancel before the
   * answer could not name the registration to remove.
   */
  private async retire({ observation, answered }: Stream, takeSlot = true): Promise<void> {
    await answered;
    try {
      await (takeSlot ? this.ctx.limiter.run(() => observation.cancel()) : observation.cancel());
    } catch (err) {
      this.ctx.log.debug({ device: this.target.deviceId, path: this.target.path, err }, 'deregistration failed');
    }
  }
}
