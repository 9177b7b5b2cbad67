import type { CoapReply, Observation, ObservationEnd } from '../src/coap/types.js';
import { Poller } from './poll-task.js';
import type { ResourceTarget } from './selection.js';
import type { ResourceTask, TaskContext } from './task.js';
import type { Watched } from './watchdogs.js';
import type { Turn } from './limiter.js';

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
export class ObservationTask implements ResourceTask, Watched {
  /** The stream to deregister before the next one registers. */
  private current: Observation | undefined;
  /** The stream of this generation: notifications and ends of any other are ignored. */
  private live: Observation | undefined;
  /** Bumped on every (re)establishment and on stop: an establishment overtaken by another gives up. */
  private generation = 0;
  private stopped = false;
  suspended = false;
  /** Length of the armed quiet-stream watchdog (ctx.watchdogs), 0 when none is armed. */
  private quietMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = FIRST_RETRY_MS;
  /** Max-Age of the last notification: how often the resource is polled while the stream is down. */
  private freshnessMs: number;
  /** The establishment slot, held until the first reply or the end of the stream. */
  private releaseSlot: (() => void) | undefined;
  /** The Observer's limiter turn an establish() waits for; withdrawn when that establish() is no longer wanted. */
  private waitingTurn: Turn | undefined;
  /** Made when first needed: most resources are observed for their whole life and never polled. */
  private poller: Poller | undefined;
  /** The stream ended because the device stopped answering (quiet stream, unanswered registration). */
  private silent = false;
  /** The stop of the task this one replaces, until it has settled: part of this task's own stop, see stop(). */
  private predecessor: Promise<void> | undefined;

  constructor(
    private readonly ctx: TaskContext,
    readonly target: ResourceTarget,
  ) {
    this.freshnessMs = ctx.defaultMaxAgeSeconds * 1000;
  }

  start(after?: Promise<void>): void {
    this.predecessor = after;
    void (after ?? Promise.resolve()).then(() => {
      if (this.predecessor === after) this.predecessor = undefined;
      return this.establish();
    });
  }

  suspend(): void {
    this.suspended = true;
    this.clearTimers();
    this.poller?.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.live = undefined;
    this.clearTimers();
    this.poller?.stop();
    this.waitingTurn?.withdraw();
    this.releaseSlot?.();
    const current = this.current;
    this.current = undefined;
    if (current) await this.retire(current);
    // Stopped before it began, a successor must still wait for the deregistration this task was waiting for.
    await this.predecessor;
  }

  /** A notification of one of this task's streams (the client's ObservationListener). */
  notified(reply: CoapReply, observation: Observation): void {
    if (this.stopped || observation !== this.live) return;
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
    this.poller?.stop();
    this.ctx.publish(this.target, reply);
    this.armWatchdog(reply.maxAge);
  }

  /** The end of one of this task's streams (the client's ObservationListener). */
  ended(ending: ObservationEnd, observation: Observation): void {
    if (this.stopped || observation !== this.live) return;
    this.onEnded(ending);
  }

  /** The watchdog expired: notifications went quiet past Max-Age and the margin. */
  quiet(): void {
    const quietMs = this.quietMs;
    this.quietMs = 0;
    this.ctx.log.info(
      { device: this.target.deviceId, path: this.target.path, quietMs },
      'notifications went quiet: checking the device, polling while re-observing',
    );
    this.unanswered();
    if (!this.stopped) this.fallback.start(0, this.freshnessMs);
    void this.establish();
  }

  private get fallback(): Poller {
    return (this.poller ??= new Poller(this.ctx, this.target, () => this.onPollAnswered()));
  }

  private async establish(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.live = undefined;
    clearTimeout(this.retryTimer);
    this.releaseSlot?.();
    this.waitingTurn?.withdraw();
    const turn = (this.waitingTurn = this.ctx.limiter.turn());
    const release = await turn.granted;
    if (this.waitingTurn === turn) this.waitingTurn = undefined;
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
      const observation = this.ctx.client.observe(
        { host, port, method: 'GET', path, timeoutMs: this.ctx.requestTimeoutMs },
        this,
      );
      this.current = observation;
      this.live = observation;
    } catch (err) {
      this.onEnded({ reason: 'timeout' }, err);
    }
  }

  private onEnded(ending: ObservationEnd, err?: unknown): void {
    this.releaseSlot?.();
    this.releaseSlot = undefined;
    this.current = undefined;
    this.live = undefined;
    this.disarmWatchdog();
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
        this.poller?.stop();
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
    if (this.suspended) return this.disarmWatchdog();
    // Max-Age 0 (or none) gives no freshness to go by: the configured default applies (RFC 7252 §5.10.5 defaults to 60 s).
    const maxAgeMs = (maxAgeSeconds || this.ctx.defaultMaxAgeSeconds) * 1000;
    this.freshnessMs = maxAgeMs;
    const quietMs = maxAgeMs + Math.max(QUIET_MARGIN_MIN_MS, maxAgeMs * QUIET_MARGIN_FRACTION);
    if (quietMs !== this.quietMs) this.disarmWatchdog();
    this.quietMs = quietMs;
    this.ctx.watchdogs.arm(this, quietMs);
  }

  private disarmWatchdog(): void {
    if (this.quietMs === 0) return;
    this.ctx.watchdogs.disarm(this, this.quietMs);
    this.quietMs = 0;
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
    this.disarmWatchdog();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /**
   * Deregisters a stream (RFC 7641 §3.6). One still registering is first let answer (the client's
   * registration deadline bounds the wait): the device may already list us, and a cancel before the
   * answer could not name the registration to remove.
   */
  private async retire(observation: Observation, takeSlot = true): Promise<void> {
    await observation.answered();
    try {
      await (takeSlot ? this.ctx.limiter.run(() => observation.cancel()) : observation.cancel());
    } catch (err) {
      this.ctx.log.debug({ device: this.target.deviceId, path: this.target.path, err }, 'deregistration failed');
    }
  }
}
