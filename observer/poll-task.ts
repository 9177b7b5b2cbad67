import { CoapTimeoutError } from '../src/coap/types.js';
import type { ResourceTarget } from './selection.js';
import type { ResourceTask, TaskContext } from './task.js';

/**
 * GETs one resource on an interval, measured from the end of the previous exchange so that a slow
 * device never has two polls of the same resource outstanding. Also the fallback of an observation.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by every start/stop: a reply to an older generation is dropped, so nothing is published twice. */
  private generation = 0;
  private running = false;
  private intervalMs = 0;

  constructor(
    private readonly ctx: TaskContext,
    private readonly target: ResourceTarget,
    /** Called after a 2.xx reply is published. */
    private readonly onAnswered: () => void = () => undefined,
  ) {}

  get active(): boolean {
    return this.running;
  }

  /** Polls after `firstDelayMs`, then every `intervalMs`; a running poller only takes the new interval. */
  start(firstDelayMs: number, intervalMs: number): void {
    this.intervalMs = intervalMs;
    if (this.running) return;
    this.running = true;
    this.schedule(++this.generation, firstDelayMs);
  }

  stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(generation: number, delayMs: number): void {
    this.timer = setTimeout(() => void this.poll(generation), delayMs);
  }

  private async poll(generation: number): Promise<void> {
    const { client, limiter, log, requestTimeoutMs } = this.ctx;
    const { host, port, path } = this.target;
    try {
      const reply = await limiter.run(() =>
        client.request({ host, port, method: 'GET', path, timeoutMs: requestTimeoutMs }),
      );
      if (generation !== this.generation) return;
      if (reply.code.startsWith('2.')) {
        this.ctx.publish(this.target, reply);
        this.onAnswered();
        if (generation !== this.generation) return;
      } else log.debug({ device: this.target.deviceId, path, code: reply.code }, 'poll answered with an error');
    } catch (err) {
      if (generation !== this.generation) return;
      log.debug({ device: this.target.deviceId, path, err: (err as Error).message }, 'poll failed');
      // No answer at all: the device's liveness is checked now rather than at the next ping round.
      if (err instanceof CoapTimeoutError) this.ctx.checkLiveness(this.target.deviceId);
    }
    this.schedule(generation, this.intervalMs);
  }
}

/** A resource selected by a poll rule: GET every `intervalSeconds`. */
export class PollTask implements ResourceTask {
  private readonly poller: Poller;
  private stopped = false;
  private predecessor: Promise<void> = Promise.resolve();
  suspended = false;

  constructor(
    ctx: TaskContext,
    readonly target: ResourceTarget,
  ) {
    this.poller = new Poller(ctx, target);
  }

  start(after: Promise<void> = Promise.resolve()): void {
    this.predecessor = after;
    void after.then(() => {
      if (!this.stopped && !this.suspended) this.poller.start(0, this.target.intervalSeconds * 1000);
    });
  }

  suspend(): void {
    this.suspended = true;
    this.poller.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poller.stop();
    // A successor waits for whatever this task was waiting for (an observation of the same resource deregistering).
    await this.predecessor;
  }
}
