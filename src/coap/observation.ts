import type { Logger } from '../log.js';
import { downloadRest } from './blockwise.js';
import type { Endpoint } from './endpoint.js';
import { exchange, outgoingRequest, toReply, transmit, type OutgoingRequest, type Received } from './exchange.js';
import type { Message } from './message.js';
import { encodeUint, OptionNumber } from './options.js';
import { resolvePeer } from './peer.js';
import { deadlineTimer } from './timing.js';
import {
  CoapResetError,
  type CoapReply,
  type CoapRequestOptions,
  type Observation,
  type ObservationEnd,
  type ObservationListener,
  type Peer,
} from './types.js';

type EndReason = ObservationEnd['reason'];

/** What every observation of one client shares: held once by the client, not by each stream. */
export interface ObservationContext {
  endpoint: Endpoint;
  log: Logger;
  /** The deadline of a request that names none: bounds the registration, block-wise completions and the deregistration. */
  defaultTimeoutMs: number;
  /** Told once, when a stream ends. */
  forget(stream: ObservationStream): void;
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

/**
 * One RFC 7641 observation: registration, ordered delivery of fresh notifications, deregistration. A stream
 * lives as long as its device is observed, so it holds only what it needs between notifications: the caller's
 * request options (the request is rebuilt for the deregistration and block-wise completions), its peer and
 * token, and its listener; it is the endpoint's listener for its token itself. Promises and controllers exist
 * only while something waits on them (registering, cancelling, a block-wise completion, a reader of `ended`).
 */
export class ObservationStream implements Observation {
  private state: 'registering' | 'observing' | 'cancelling' | 'ended' = 'registering';
  private peer: Peer | undefined;
  private token: Buffer | undefined;
  // Stops the registration's retransmissions once answered; dropped then (see REGISTRATION_OVER).
  private registration: AbortController | undefined = new AbortController();
  // Aborts block-wise completions and a deregistration still in flight when the stream stops.
  private lifetimeController: AbortController | undefined;
  private registrationTimer: { clear(): void } | undefined;
  /** The last accepted notification's sequence number and arrival (ms); no object per notification. */
  private latestSequence = -1;
  private latestAt = 0;
  // Notifications completed by block-wise transfer are delivered in arrival order; undefined when none is pending.
  private deliveries: Promise<void> | undefined;
  private deregistered: (() => void) | undefined;
  private answerWaiters: Array<() => void> | undefined;
  private end: ObservationEnd | undefined;
  private endedPromise: Promise<ObservationEnd> | undefined;
  private resolveEnded: ((end: ObservationEnd) => void) | undefined;

  constructor(
    private readonly ctx: ObservationContext,
    /** The GET as the caller described it; Observe is added here. Kept, not copied: the caller must not change it. */
    private readonly options: CoapRequestOptions,
    private readonly listener: ObservationListener,
  ) {}

  get ended(): Promise<ObservationEnd> {
    this.endedPromise ??=
      this.end !== undefined ? Promise.resolve(this.end) : new Promise((resolve) => (this.resolveEnded = resolve));
    return this.endedPromise;
  }

  answered(): Promise<void> {
    if (this.state !== 'registering') return Promise.resolve();
    return new Promise((resolve) => (this.answerWaiters ??= []).push(resolve));
  }

  start(): void {
    this.registrationTimer = deadlineTimer(this.timeoutMs, () => this.stop('timeout'));
    this.register().catch((error: unknown) => {
      // Aborted on purpose: answered (the response may overtake its ACK), cancelled, or stopped.
      if (this.state === 'ended' || this.registration === undefined) return;
      this.ctx.log.debug({ err: error, host: this.options.host }, 'observe registration failed');
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
    this.moveTo('cancelling');
    this.endRegistration();
    const attempt = new AbortController();
    // close() of the client ends a deregistration in flight too.
    this.lifetime.signal.addEventListener('abort', () => attempt.abort(), { once: true });
    const timer = setTimeout(() => attempt.abort(), this.timeoutMs);
    const answered = new Promise<void>((resolve) => (this.deregistered = resolve));
    const gaveUp = new Promise<void>((resolve) =>
      attempt.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    // A Reset or exhausted retransmissions mean nobody keeps us listed any more: done as well.
    transmit(this.ctx.endpoint, peer, this.request(1), token, attempt.signal).catch((error: unknown) => {
      this.ctx.log.debug({ err: error, host: this.options.host }, 'observe deregistration unanswered');
      attempt.abort();
    });
    await Promise.race([answered, gaveUp]);
    clearTimeout(timer);
    attempt.abort();
    this.stop('cancelled');
  }

  stop(reason: EndReason, reply?: CoapReply): void {
    if (this.state === 'ended') return;
    this.moveTo('ended');
    this.endRegistration();
    this.lifetimeController?.abort();
    if (this.peer !== undefined && this.token !== undefined) this.ctx.endpoint.forget(this.peer, this.token, this);
    this.ctx.forget(this);
    const end: ObservationEnd = reply === undefined ? { reason } : { reason, reply };
    this.end = end;
    this.resolveEnded?.(end);
    const { listener } = this;
    // Told on a later tick, as a reader of `ended` is: the listener may act on the end with the stream settled.
    if (typeof listener !== 'function') queueMicrotask(() => listener.ended(end, this));
  }

  /** Responses with the stream's token (the endpoint's ResponseListener). */
  response(message: Message, source: Peer): void {
    if (this.state === 'cancelling') return this.deregistered?.();
    if (this.state === 'ended') return;
    if (this.state === 'registering') {
      this.moveTo('observing');
      this.endRegistration();
    }
    const received = { message, source };
    const reply = toReply(received);
    // RFC 7641 §3.2: an error, or a response without Observe, means the server no longer lists us.
    if (!reply.code.startsWith('2.')) return this.stop('rejected', reply);
    if (reply.observe !== undefined && !this.accept(reply.observe)) return;
    this.enqueue(received, reply.observe === undefined);
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? this.ctx.defaultTimeoutMs;
  }

  /** The GET with Observe: 0 registers, 1 deregisters (RFC 7641 §2). */
  private request(observe: 0 | 1): OutgoingRequest {
    const request = outgoingRequest(this.options);
    request.options.push({ number: OptionNumber.observe, value: encodeUint(observe) });
    return request;
  }

  private moveTo(state: 'observing' | 'cancelling' | 'ended'): void {
    this.state = state;
    const waiters = this.answerWaiters;
    this.answerWaiters = undefined;
    for (const resolve of waiters ?? []) resolve();
  }

  private async register(): Promise<void> {
    const peer = await resolvePeer(this.options.host, this.options.port);
    if (this.state === 'ended') return;
    // A copy in Node's shared pool: the stream keeps its token as long as it lives, and a Buffer of its own
    // (randomBytes) costs some 500 bytes of RSS.
    const token = Buffer.from(this.ctx.endpoint.newToken(peer));
    this.peer = peer;
    this.token = token;
    this.ctx.endpoint.expect(peer, token, this);
    const signal = this.registration?.signal;
    if (signal === undefined) return;
    await transmit(this.ctx.endpoint, peer, this.request(0), token, signal);
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

  private accept(sequence: number): boolean {
    const now = Date.now();
    if (this.latestSequence >= 0 && !isFresher(this.latestSequence, this.latestAt, sequence, now)) return false;
    this.latestSequence = sequence;
    this.latestAt = now;
    return true;
  }

  private enqueue(received: Received, last: boolean): void {
    const delivery: Promise<void> = (this.deliveries ?? Promise.resolve())
      .then(() => this.complete(received))
      .then((complete) => {
        if (this.state === 'ended') return;
        const reply = toReply(complete);
        const { listener } = this;
        if (typeof listener === 'function') listener(reply);
        else listener.notified(reply, this);
        if (last) this.stop('not-observable', reply);
      })
      .catch((error: unknown) => this.ctx.log.warn({ err: error, host: this.options.host }, 'notification dropped'))
      .finally(() => {
        // The chain is kept only while deliveries are pending: a resolved promise per stream is 48 bytes for nothing.
        if (this.deliveries === delivery) this.deliveries = undefined;
      });
    this.deliveries = delivery;
  }

  /** RFC 7959 §2.6: a notification's further blocks are fetched with plain GETs (no Observe), on a token of their own. */
  private complete(received: Received): Promise<Received> {
    const { endpoint } = this.ctx;
    const request = outgoingRequest(this.options);
    let token: Buffer | undefined;
    const send = (next: OutgoingRequest): Promise<Received> => {
      token ??= endpoint.newToken(received.source);
      const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(this.timeoutMs)]);
      return exchange(endpoint, received.source, next, signal, token);
    };
    return downloadRest(send, request, received);
  }
}
