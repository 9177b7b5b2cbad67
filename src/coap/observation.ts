import type { Logger } from '../log.js';
import { downloadRest } from './blockwise.js';
import type { Endpoint } from './endpoint.js';
import { exchange, toReply, transmit, type OutgoingRequest, type Received } from './exchange.js';
import type { Message } from './message.js';
import { encodeUint, OptionNumber } from './options.js';
import { resolvePeer } from './peer.js';
import { deadlineTimer } from './timing.js';
import { CoapResetError, type CoapReply, type Observation, type Peer } from './types.js';

export type ObservationEnd = Awaited<Observation['ended']>;
type EndReason = ObservationEnd['reason'];

export interface ObservationOptions {
  endpoint: Endpoint;
  /** The GET as built for a plain request; Observe is added here. */
  request: OutgoingRequest;
  host: string;
  port: number;
  /** Bounds the registration, each block-wise completion of a notification, and the deregistration. */
  timeoutMs: number;
  onNotification: (reply: CoapReply) => void;
  log: Logger;
}

// RFC 7641 §3.4: sequence numbers are 24-bit; a notification is newer within half the space or after 128 s.
const HALF_SEQUENCE_SPACE = 2 ** 23;
const REORDER_WINDOW_MS = 128_000;

/** Whether notification (v2 at t2) is fresher than the last one delivered (v1 at t1), RFC 7641 §3.4. */
export function isFresher(v1: number, t1: number, v2: number, t2: number): boolean {
  return (
    (v1 < v2 && v2 - v1 < HALF_SEQUENCE_SPACE) ||
    (v1 > v2 && v1 - v2 > HALF_SEQUENCE_SPACE) ||
    t2 > t1 + REORDER_WINDOW_MS
  );
}

/**
 * The reason the registration's retransmissions are stopped with once answered. One shared value: an
 * `abort()` without a reason builds a DOMException with a captured stack, and an observation lives for
 * as long as its device, so every observation kept one (over a kilobyte each with its signal's maps).
 */
const REGISTRATION_OVER = new Error('observe registration over');

const withObserve = (request: OutgoingRequest, value: 0 | 1): OutgoingRequest => ({
  ...request,
  options: [...request.options, { number: OptionNumber.observe, value: encodeUint(value) }],
});

/** One RFC 7641 observation: registration, ordered delivery of fresh notifications, deregistration. */
export class ObservationStream implements Observation {
  readonly ended: Promise<ObservationEnd>;
  private resolveEnded!: (end: ObservationEnd) => void;
  private state: 'registering' | 'observing' | 'cancelling' | 'ended' = 'registering';
  private peer: Peer | undefined;
  private token: Buffer | undefined;
  private unregister = (): void => undefined;
  // Stops the registration's retransmissions once answered; dropped then (see REGISTRATION_OVER).
  private registration: AbortController | undefined = new AbortController();
  // Aborts block-wise completions and a deregistration still in flight when the stream stops; made when
  // first needed, as most streams never need it.
  private lifetimeController: AbortController | undefined;
  private registrationTimer: { clear(): void } | undefined;
  /** The last accepted notification's sequence number and arrival (ms); no object per notification. */
  private latestSequence = -1;
  private latestAt = 0;
  // Notifications completed by block-wise transfer are delivered in arrival order.
  private deliveries: Promise<void> = Promise.resolve();
  private deregistered: (() => void) | undefined;

  constructor(private readonly options: ObservationOptions) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  start(): void {
    this.registrationTimer = deadlineTimer(this.options.timeoutMs, () => this.stop('timeout'));
    this.register().catch((error: unknown) => {
      // Aborted on purpose: answered (the response may overtake its ACK), cancelled, or stopped.
      if (this.state === 'ended' || this.registration === undefined) return;
      this.options.log.debug({ err: error, host: this.options.host }, 'observe registration failed');
      this.stop(error instanceof CoapResetError ? 'reset' : 'timeout');
    });
  }

  /** RFC 7641 §3.6: deregisters with a GET carrying Observe=1 and the same token, then stops. */
  async cancel(): Promise<void> {
    const { peer, token } = this;
    if (this.state === 'ended' || this.state === 'cancelling') return;
    if (peer === undefined || token === undefined) {
      this.stop('cancelled');
      return;
    }
    // Also while the registration is in flight: the server may have listed us already.
    this.state = 'cancelling';
    this.endRegistration();
    const attempt = new AbortController();
    // close() of the client ends a deregistration in flight too.
    this.lifetime.signal.addEventListener('abort', () => attempt.abort(), { once: true });
    const timer = setTimeout(() => attempt.abort(), this.options.timeoutMs);
    const answered = new Promise<void>((resolve) => (this.deregistered = resolve));
    const gaveUp = new Promise<void>((resolve) =>
      attempt.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    // A Reset or exhausted retransmissions mean nobody keeps us listed any more: done as well.
    transmit(this.options.endpoint, peer, withObserve(this.options.request, 1), token, attempt.signal).catch(
      (error: unknown) => {
        this.options.log.debug({ err: error, host: this.options.host }, 'observe deregistration unanswered');
        attempt.abort();
      },
    );
    await Promise.race([answered, gaveUp]);
    clearTimeout(timer);
    attempt.abort();
    this.stop('cancelled');
  }

  stop(reason: EndReason, reply?: CoapReply): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.endRegistration();
    this.lifetimeController?.abort();
    this.unregister();
    this.resolveEnded(reply === undefined ? { reason } : { reason, reply });
  }

  private async register(): Promise<void> {
    const peer = await resolvePeer(this.options.host, this.options.port);
    if (this.state === 'ended') return;
    // A copy in Node's shared pool: the stream keeps its token as long as it lives, and a Buffer of its own
    // (randomBytes) costs some 500 bytes of RSS.
    const token = Buffer.from(this.options.endpoint.newToken(peer));
    this.peer = peer;
    this.token = token;
    this.unregister = this.options.endpoint.expect(peer, token, (message, source) => this.receive(message, source));
    const signal = this.registration?.signal;
    if (signal === undefined) return;
    await transmit(this.options.endpoint, peer, withObserve(this.options.request, 0), token, signal);
  }

  private get lifetime(): AbortController {
    return (this.lifetimeController ??= new AbortController());
  }

  private endRegistration(): void {
    this.registrationTimer?.clear();
    this.registrationTimer = undefined;
    this.registration?.abort(REGISTRATION_OVER);
    this.registration = undefined;
  }

  private receive(message: Message, source: Peer): void {
    if (this.state === 'cancelling') return this.deregistered?.();
    if (this.state === 'ended') return;
    if (this.state === 'registering') {
      this.state = 'observing';
      this.endRegistration();
    }
    const received = { message, source };
    const reply = toReply(received);
    // RFC 7641 §3.2: an error, or a response without Observe, means the server no longer lists us.
    if (!reply.code.startsWith('2.')) return this.stop('rejected', reply);
    if (reply.observe !== undefined && !this.accept(reply.observe)) return;
    this.enqueue(received, reply.observe === undefined);
  }

  private accept(sequence: number): boolean {
    const now = Date.now();
    if (this.latestSequence >= 0 && !isFresher(this.latestSequence, this.latestAt, sequence, now)) return false;
    this.latestSequence = sequence;
    this.latestAt = now;
    return true;
  }

  private enqueue(received: Received, last: boolean): void {
    this.deliveries = this.deliveries
      .then(() => this.complete(received))
      .then((complete) => {
        if (this.state === 'ended') return;
        this.options.onNotification(toReply(complete));
        if (last) this.stop('not-observable', toReply(complete));
      })
      .catch((error: unknown) =>
        this.options.log.warn({ err: error, host: this.options.host }, 'notification dropped'),
      );
  }

  /** RFC 7959 §2.6: a notification's further blocks are fetched with plain GETs (no Observe), on a token of their own. */
  private complete(received: Received): Promise<Received> {
    const { endpoint, request, timeoutMs } = this.options;
    let token: Buffer | undefined;
    const send = (next: OutgoingRequest): Promise<Received> => {
      token ??= endpoint.newToken(received.source);
      const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(timeoutMs)]);
      return exchange(endpoint, received.source, next, signal, token);
    };
    return downloadRest(send, request, received);
  }
}
