import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { PatternIndex } from './patterns.js';
import type { RetainedEvents } from './retained-events.js';

/** Close code for a subscriber that does not keep up (RFC 6455 §7.4.1: 1013 Try Again Later). */
export const SLOW_SUBSCRIBER_CLOSE = 1013;
/** Close code for a message a subscriber sent that is not an action (RFC 6455 §7.4.1: 1008 Policy Violation). */
const POLICY_CLOSE = 1008;
const EVENT_NAME_MAX = 256;

export const eventName = z.string().min(1).max(EVENT_NAME_MAX);

const action = z.union([
  z.object({ action: z.enum(['subscribe', 'unsubscribe']), event: eventName }).strict(),
  z.object({ action: z.literal('resume'), after: z.number().int().min(0) }).strict(),
]);

/**
 * Names only the hub publishes: what gateways report (device events, telemetry) and the links' own events.
 * `POST /publish` may not use them, so a subscriber can trust them (anyone with the API key could forge a
 * `telemetry/<id>` or a `device.offline`).
 */
export function isHubEventName(name: string): boolean {
  return (
    name === 'telemetry' || name.startsWith('telemetry/') || name.startsWith('device.') || name.startsWith('gateway.')
  );
}

/** What /socket/info shows of a subscriber. */
export interface SubscriberInfo {
  clientName: string;
  address: string;
  connected_at: string;
  subscriptions: string[];
}

interface Subscriber {
  ws: WebSocket;
  socket: Duplex;
  info: SubscriberInfo;
  patterns: Set<string>;
}

export interface PubSubOptions {
  /** A subscriber with more than this many bytes queued is disconnected instead of growing memory. */
  maxBufferedBytes: number;
  /** Patterns one subscriber may hold; one more is refused with an error message. */
  maxPatternsPerClient: number;
  /** The stream's seqs and the window a subscriber may resume from. */
  retained: RetainedEvents;
  /** How long a closed slow subscriber may take to read its close frame before its socket is cut. */
  closeGraceMs?: number;
}

const NOBODY: ReadonlySet<never> = new Set();

/** PiCloud-style pub/sub: WebSocket subscribers with name patterns; every hub event is published here. */
export class PubSub {
  private readonly subscribers = new Set<Subscriber>();
  private readonly index = new PatternIndex<Subscriber>();
  private readonly corked = new Set<Subscriber>();
  private readonly listeners: Array<(name: string, data: unknown, from?: string) => void> = [];
  private droppedCount = 0;

  constructor(
    private readonly log: Logger,
    private readonly options: PubSubOptions,
  ) {}

  /** Other consumers of every event (webhooks). */
  onPublish(listener: (name: string, data: unknown, from?: string) => void): void {
    this.listeners.push(listener);
  }

  /** `from` names the client that published through `POST /publish`; hub events have none. */
  publish(name: string, data: unknown, from?: string): void {
    const { retained } = this.options;
    const seq = retained.takeSeq();
    // Matching allocates; with nobody subscribed there is nothing to match.
    const matched = this.subscribers.size > 0 ? this.index.match(name) : NOBODY;
    if (matched.size > 0 || retained.keeps) {
      const text = JSON.stringify(eventMessage(name, data, from, seq));
      retained.keep({ seq, name, text });
      for (const subscriber of matched) this.deliver(subscriber, text);
    }
    for (const listener of this.listeners) listener(name, data, from);
  }

  /** A WebSocket accepted on /subscribe, with the socket it runs on (corked while a turn's events are written). */
  attach(ws: WebSocket, socket: Duplex, clientName: string, address: string): void {
    const subscriber: Subscriber = {
      ws,
      socket,
      patterns: new Set(),
      info: { clientName, address, connected_at: new Date().toISOString(), subscriptions: [] },
    };
    this.subscribers.add(subscriber);
    this.log.info({ clientName, address }, 'subscriber connected');
    ws.on('message', (data, isBinary) => this.onAction(subscriber, isBinary ? null : data.toString()));
    ws.on('close', () => {
      this.forget(subscriber);
      this.log.info({ clientName }, 'subscriber disconnected');
    });
    ws.on('error', (err) => this.log.debug({ err, clientName }, 'subscriber socket error'));
  }

  /** Subscribers connected now. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Events not delivered because their subscriber was too slow and was disconnected (for metrics). */
  dropped(): number {
    return this.droppedCount;
  }

  info(): SubscriberInfo[] {
    return [...this.subscribers].map((s) => ({ ...s.info, subscriptions: [...s.patterns] }));
  }

  close(): void {
    // Events of this turn still corked would die with the socket, though the hub commits their seqs on stop and the
    // gateway never resends them: hand them to the kernel first.
    this.uncork();
    for (const subscriber of this.subscribers) {
      subscriber.ws.terminate();
      this.forget(subscriber);
    }
    this.options.retained.flush();
  }

  private onAction(subscriber: Subscriber, text: string | null): void {
    let parsed: unknown;
    try {
      parsed = text === null ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const result = action.safeParse(parsed);
    if (!result.success) {
      const message = 'expected {"action": "subscribe"|"unsubscribe", "event": "<name or pattern>"}';
      subscriber.ws.send(JSON.stringify({ error: { code: 'bad_request', message } }));
      if (text === null) subscriber.ws.close(POLICY_CLOSE, 'text frames only');
      return;
    }
    if (result.data.action === 'resume') return this.resume(subscriber, result.data.after);
    const { action: verb, event } = result.data;
    if (verb === 'unsubscribe') {
      subscriber.patterns.delete(event);
      this.index.delete(event, subscriber);
    } else if (!subscriber.patterns.has(event)) {
      const max = this.options.maxPatternsPerClient;
      if (subscriber.patterns.size >= max) {
        const message = `at most ${max} subscriptions per client; unsubscribe from one first`;
        subscriber.ws.send(JSON.stringify({ error: { code: 'too_many_subscriptions', message }, event }));
        return;
      }
      subscriber.patterns.add(event);
      this.index.add(event, subscriber);
    }
    subscriber.ws.send(JSON.stringify({ action: `${verb}d`, event }));
  }

  /**
   * Replays the retained events after `after` that match the subscriber's patterns, in order, after one
   * `resumed` message that says up to which seq the stream stands and which seqs were missed beyond the window.
   */
  private resume(subscriber: Subscriber, after: number): void {
    const { events, gap } = this.options.retained.since(after);
    const last = this.options.retained.last;
    subscriber.ws.send(JSON.stringify({ action: 'resumed', after, last, ...(gap && { gap }) }));
    for (const event of events) {
      if (this.index.match(event.name).has(subscriber)) this.deliver(subscriber, event.text);
    }
  }

  private forget(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    for (const pattern of subscriber.patterns) this.index.delete(pattern, subscriber);
  }

  private deliver(subscriber: Subscriber, message: string): void {
    const { ws } = subscriber;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.options.maxBufferedBytes) {
      this.forget(subscriber);
      this.droppedCount++;
      this.log.warn(
        { clientName: subscriber.info.clientName, buffered: ws.bufferedAmount },
        'subscriber too slow, disconnecting',
      );
      ws.close(SLOW_SUBSCRIBER_CLOSE, `slow subscriber: more than ${this.options.maxBufferedBytes} bytes queued`);
      setTimeout(() => ws.terminate(), this.options.closeGraceMs ?? 5_000).unref();
      return;
    }
    this.cork(subscriber);
    ws.send(message);
  }

  /**
   * Holds a subscriber's writes until the end of this event-loop turn, so that a burst of events leaves in one
   * write instead of one system call per event (which measured as half the hub's CPU at 10 subscribers).
   */
  private cork(subscriber: Subscriber): void {
    if (this.corked.has(subscriber)) return;
    if (this.corked.size === 0) setImmediate(() => this.uncork());
    this.corked.add(subscriber);
    subscriber.socket.cork();
  }

  private uncork(): void {
    for (const subscriber of this.corked) subscriber.socket.uncork();
    this.corked.clear();
  }
}

/** The JSON every subscriber and webhook receives for one event; subscribers' carries the stream's `seq`. */
export function eventMessage(name: string, data: unknown, from?: string, seq?: number): object {
  const ts = Date.now();
  if (seq === undefined) return from === undefined ? { event: name, data, ts } : { event: name, data, from, ts };
  return from === undefined ? { event: name, data, ts, seq } : { event: name, data, from, ts, seq };
}
