import type { EventFrame, GatewayFrame, TelemetryFrame } from '../protocol/index.js';
import type { Dialect, Publish } from './publish.js';

interface Sent {
  upTo: number | undefined;
  acked: boolean;
}

export interface InFlightLink {
  publish(message: Publish, done: (err?: Error) => void): boolean;
}

/**
 * The upstream of one MQTT connection: the frames the outbox sends in one turn become the dialect's publishes
 * (telemetry batched), and a seq is acked to the outbox only when the PUBACKs of its publish and of every publish
 * before it have arrived. MQTT 3.1.1 §4.6 has PUBACKs come in order; the queue keeps that true regardless.
 */
export class InFlight {
  private batch: (EventFrame | TelemetryFrame)[] = [];
  private scheduled = false;
  private readonly sent: Sent[] = [];
  private idleWaiters: Array<() => void> = [];
  private dead = false;

  constructor(
    private readonly link: InFlightLink,
    private readonly dialect: Dialect,
    private readonly ack: (seq: number) => void,
  ) {}

  /** The outbox's `send`: collected for this turn, published together right after it. */
  send = (frame: GatewayFrame): boolean => {
    if (this.dead || (frame.type !== 'event' && frame.type !== 'telemetry')) return false;
    this.batch.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  };

  /** Publishes one message outside the outbox (snapshot, replies); its PUBACK still counts for idle(). */
  publish(message: Publish): void {
    this.transmit({ ...message, upTo: undefined });
  }

  /** Nothing sent is waiting for its PUBACK any more (or the link died). */
  idle(): Promise<void> {
    if (this.sent.length === 0 && this.batch.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get waiting(): number {
    return this.sent.length;
  }

  /** The connection is gone: what it had in flight is resent from the outbox on the next one. */
  kill(): void {
    this.dead = true;
    this.batch = [];
    this.sent.length = 0;
    this.settleIdle();
  }

  private flush(): void {
    this.scheduled = false;
    const frames = this.batch;
    this.batch = [];
    if (this.dead || frames.length === 0) return;
    for (const message of this.dialect.encode(frames)) this.transmit(message);
    this.settleIdle();
  }

  private transmit(message: Publish): void {
    if (this.dead) return;
    const entry: Sent = { upTo: message.upTo, acked: false };
    this.sent.push(entry);
    const sent = this.link.publish(message, (err) => {
      // A failed publish means the connection went; kill() follows from the link's close.
      if (err || this.dead) return;
      entry.acked = true;
      this.advance();
    });
    if (!sent) this.sent.pop();
  }

  private advance(): void {
    let upTo: number | undefined;
    while (this.sent.length > 0 && this.sent[0]!.acked) {
      const head = this.sent.shift()!;
      if (head.upTo !== undefined) upTo = head.upTo;
    }
    if (upTo !== undefined) this.ack(upTo);
    this.settleIdle();
  }

  private settleIdle(): void {
    if (!this.dead && (this.sent.length > 0 || this.batch.length > 0)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
