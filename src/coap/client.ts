import type { Logger } from '../log.js';
import { requestBlockwise } from './blockwise.js';
import { Endpoint } from './endpoint.js';
import { exchange, outgoingRequest, toReply, type OutgoingRequest } from './exchange.js';
import { EMPTY_CODE } from './message.js';
import { resolvePeer } from './peer.js';
import { ObservationStream, type ObservationContext } from './observation.js';
import { multicastRequest } from './multicast.js';
import { deadlineTimer, DEFAULT_TIMING, maxTransmitWaitMs, type TransmissionTiming } from './timing.js';
import {
  CoapTimeoutError,
  CoapTransportError,
  type CoapClientApi,
  type CoapReply,
  type CoapRequestOptions,
  type Observation,
  type ObservationListener,
  type Peer,
} from './types.js';

export interface CoapClientOptions {
  log: Logger;
  /**
   * The endpoint to request from, shared with the server on the same socket (the gateway's RD port): its
   * owner opens and closes it. Without one the client opens an endpoint of its own on `bind` and `port`.
   */
  endpoint?: Endpoint;
  /** Local address of the client socket; `::` (default) is dual-stack, an IPv4 address gives an IPv4-only socket. */
  bind?: string;
  port?: number;
  timing?: Partial<TransmissionTiming>;
  /** Largest block the client sends (Block1) before splitting a payload; 16 … 1024 (RFC 7959 §2.2). */
  blockSize?: number;
}

/**
 * The gateway's CoAP client (RFC 7252, RFC 7641, RFC 7959) over one UDP socket: every exchange is matched by
 * (peer, token) and bounded by the caller's deadline, retransmissions and block-wise transfers included.
 */
export class CoapClient implements CoapClientApi {
  private readonly log: Logger;
  private readonly endpoint: Endpoint;
  private readonly ownsEndpoint: boolean;
  private readonly timing: TransmissionTiming;
  private readonly blockBytes: number;
  private readonly active = new Set<AbortController>();
  private readonly observations = new Set<ObservationStream>();
  private readonly observationContext: ObservationContext;
  private closed = false;

  constructor(options: CoapClientOptions) {
    this.log = options.log;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.blockBytes = options.blockSize ?? 1024;
    this.ownsEndpoint = options.endpoint === undefined;
    this.endpoint =
      options.endpoint ??
      new Endpoint({ log: options.log, bind: options.bind ?? '::', port: options.port ?? 0, timing: this.timing });
    this.observationContext = {
      endpoint: this.endpoint,
      log: this.log,
      defaultTimeoutMs: maxTransmitWaitMs(this.timing),
      forget: (stream) => this.observations.delete(stream),
    };
    if (this.ownsEndpoint) {
      this.endpoint.open().catch((error: unknown) => options.log.error({ err: error }, 'coap client could not bind'));
    }
  }

  /** Resolves once the socket is bound; the local address, e.g. for a test server to expect requests from. */
  async address(): Promise<Peer> {
    await this.endpoint.open();
    return this.endpoint.address();
  }

  async request(options: CoapRequestOptions): Promise<CoapReply> {
    return this.withDeadline(options.timeoutMs, async (signal) => {
      const peer = await resolvePeer(options.host, options.port);
      const token = this.endpoint.newToken(peer);
      const send = (request: OutgoingRequest) => exchange(this.endpoint, peer, request, signal, token);
      return toReply(await requestBlockwise(send, outgoingRequest(options), this.blockBytes));
    });
  }

  /** RFC 7252 §4.3: an Empty CON provokes a Reset from any live CoAP endpoint; never throws. */
  async ping(host: string, port: number, timeoutMs: number): Promise<boolean> {
    try {
      return await this.withDeadline(timeoutMs, async (signal) => {
        const peer = await resolvePeer(host, port);
        const message = {
          type: 'CON' as const,
          code: EMPTY_CODE,
          messageId: this.endpoint.nextMessageId(peer),
          token: Buffer.alloc(0),
          options: [],
          payload: Buffer.alloc(0),
        };
        await this.endpoint.confirm(peer, message, signal);
        return true;
      });
    } catch (error) {
      this.log.trace({ err: error, host, port }, 'ping unanswered');
      return false;
    }
  }

  observe(options: CoapRequestOptions, listener: ObservationListener): Observation {
    const stream = new ObservationStream(this.observationContext, options, listener);
    this.observations.add(stream);
    if (this.closed) stream.stop('cancelled');
    else stream.start();
    return stream;
  }

  async multicast(
    options: CoapRequestOptions & { waitMs: number; interface?: string },
    onReply: (reply: CoapReply) => void,
  ): Promise<void> {
    if (this.closed) throw new CoapTransportError('coap client closed');
    const controller = this.track();
    try {
      await multicastRequest(
        { ...options, log: this.log, timing: this.timing },
        outgoingRequest(options),
        onReply,
        controller.signal,
      );
    } finally {
      this.active.delete(controller);
    }
  }

  /** Exchanges in progress: tests check that every request, ping and observation left nothing behind. */
  inFlight(): { requests: number; observations: number; confirmables: number; listeners: number } {
    return { requests: this.active.size, observations: this.observations.size, ...this.endpoint.inFlight() };
  }

  /** Ends observations, rejects pending requests, then closes the socket (when it is the client's own). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.observations) stream.stop('cancelled');
    for (const controller of this.active) controller.abort(new CoapTransportError('coap client closed'));
    if (this.ownsEndpoint) await this.endpoint.close();
  }

  private track(): AbortController {
    const controller = new AbortController();
    this.active.add(controller);
    return controller;
  }

  private async withDeadline<T>(timeoutMs: number | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closed) throw new CoapTransportError('coap client closed');
    const limit = timeoutMs ?? maxTransmitWaitMs(this.timing);
    const controller = this.track();
    const timer = deadlineTimer(limit, () => controller.abort(new CoapTimeoutError(`no reply within ${limit} ms`)));
    try {
      return await work(controller.signal);
    } finally {
      timer.clear();
      this.active.delete(controller);
    }
  }
}
