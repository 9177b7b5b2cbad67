import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { decodeMessage, EMPTY_CODE, encodeMessage, isEmpty, isResponse, type Message } from './message.js';
import { peerKey, peerOf } from './peer.js';
import { DedupCache } from './dedup-cache.js';
import { exchangeLifetimeMs, initialTimeoutMs, type TransmissionTiming } from './timing.js';
import { CoapTimeoutError, CoapTransportError, type Peer } from './types.js';

/** Receives every response carrying a token this endpoint handed out, from the peer it was sent to. */
export type ResponseListener = (message: Message, source: Peer) => void;

interface PendingConfirmable {
  resolve(reply: Message): void;
}

// Bounds the duplicate-detection memory when thousands of devices notify per second; past it, a late
// retransmission is taken again, which the Observe freshness rule and token matching absorb.
const MAX_SEEN = 50_000;
const ANY_PEER = '*';

export interface EndpointOptions {
  log: Logger;
  bind: string;
  port: number;
  timing: TransmissionTiming;
}

/**
 * One UDP socket and the RFC 7252 message layer over it: message ids per peer, CON retransmission,
 * ACK/RST matching by (peer, message id), response matching by (peer, token), duplicate detection.
 */
export class Endpoint {
  private readonly socket: dgram.Socket;
  private readonly v6: boolean;
  readonly bound: Promise<void>;
  private closed = false;
  private readonly messageIds = new Map<string, number>();
  private readonly confirmables = new Map<string, PendingConfirmable>();
  private readonly listeners = new Map<string, ResponseListener>();
  private readonly seen: DedupCache;

  constructor(private readonly options: EndpointOptions) {
    this.seen = new DedupCache({ maxEntries: MAX_SEEN, lifetimeMs: exchangeLifetimeMs(options.timing) });
    this.v6 = !isIPv4(options.bind);
    this.socket = dgram.createSocket(this.v6 ? { type: 'udp6', ipv6Only: false } : { type: 'udp4' });
    this.socket.on('message', (datagram, rinfo) => this.receive(datagram, peerOf(rinfo.address, rinfo.port)));
    // ICMP-reported failures and the like surface here; they must never crash the gateway.
    this.socket.on('error', (error) => options.log.debug({ err: error }, 'coap client socket error'));
    this.bound = new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(options.port, options.bind, () => {
        this.socket.off('error', reject);
        enlargeReceiveBuffer(this.socket);
        resolve();
      });
    });
    this.bound.catch((error: unknown) => options.log.error({ err: error }, 'coap client could not bind'));
  }

  /** RFC 7252 §8.1: multicast requests leave through the interface with this address (e.g. `127.0.0.1` in tests). */
  async setMulticastInterface(address: string): Promise<void> {
    await this.bound;
    this.socket.setMulticastInterface(address);
  }

  address(): Peer {
    const info = this.socket.address();
    return peerOf(info.address, info.port);
  }

  nextMessageId(peer: Peer): number {
    const key = peerKey(peer);
    const next = ((this.messageIds.get(key) ?? randomInt(0x10000)) + 1) & 0xffff;
    this.messageIds.set(key, next);
    return next;
  }

  /** A fresh random token (RFC 7252 §5.3.1: at least 32 random bits) not in use towards this peer. */
  newToken(peer: Peer | undefined): Buffer {
    for (;;) {
      const token = randomBytes(4);
      if (!this.listeners.has(this.listenerKey(peer, token))) return token;
    }
  }

  /** Routes responses with `token` from `peer` (or from anyone, for multicast) to `listener` until the returned function is called. */
  expect(peer: Peer | undefined, token: Buffer, listener: ResponseListener): () => void {
    const key = this.listenerKey(peer, token);
    this.listeners.set(key, listener);
    return () => {
      if (this.listeners.get(key) === listener) this.listeners.delete(key);
    };
  }

  async send(peer: Peer, message: Message): Promise<void> {
    await this.sendDatagram(peer, encodeMessage(message));
  }

  /**
   * Sends a CON and retransmits it with exponential back-off (RFC 7252 §4.2) until an ACK or RST with its
   * message id arrives (resolved with that message), the retransmissions run out (CoapTimeoutError) or `signal` aborts.
   */
  confirm(peer: Peer, message: Message, signal: AbortSignal): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const key = `${peerKey(peer)}#${message.messageId}`;
      const datagram = encodeMessage(message);
      const { maxRetransmit } = this.options.timing;
      let timeout = initialTimeoutMs(this.options.timing);
      let retransmissions = 0;
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: () => void): void => {
        clearTimeout(timer);
        this.confirmables.delete(key);
        signal.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = (): void => settle(() => reject(signal.reason));
      const transmit = (): void => {
        this.sendDatagram(peer, datagram).catch((error: unknown) => settle(() => reject(error)));
        timer = setTimeout(() => {
          if (retransmissions === maxRetransmit) {
            settle(() => reject(new CoapTimeoutError(`no acknowledgement from ${peer.address}:${peer.port}`)));
            return;
          }
          retransmissions++;
          timeout *= 2;
          transmit();
        }, timeout);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.confirmables.set(key, { resolve: (reply) => settle(() => resolve(reply)) });
      transmit();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.seen.clear();
    await this.bound.catch(() => undefined);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private listenerKey(peer: Peer | undefined, token: Buffer): string {
    return `${peer === undefined ? ANY_PEER : peerKey(peer)}#${token.toString('hex')}`;
  }

  private async sendDatagram(peer: Peer, datagram: Buffer): Promise<void> {
    await this.bound;
    if (this.closed) throw new CoapTransportError('coap client closed');
    const address = this.v6 && peer.family === 'IPv4' ? `::ffff:${peer.address}` : peer.address;
    await new Promise<void>((resolve, reject) => {
      this.socket.send(datagram, peer.port, address, (error) =>
        error
          ? reject(
              new CoapTransportError(`cannot send to ${peer.address}:${peer.port}: ${error.message}`, { cause: error }),
            )
          : resolve(),
      );
    });
  }

  private receive(datagram: Buffer, source: Peer): void {
    let message: Message;
    try {
      message = decodeMessage(datagram);
    } catch (error) {
      this.options.log.debug({ err: error, source }, 'ignored malformed CoAP datagram');
      return;
    }
    if (message.type === 'ACK' || message.type === 'RST') return this.receiveReply(message, source);
    if (this.isDuplicate(message, source)) return;
    const listener = isResponse(message)
      ? (this.listeners.get(this.listenerKey(source, message.token)) ??
        this.listeners.get(this.listenerKey(undefined, message.token)))
      : undefined;
    if (listener === undefined) {
      // RFC 7252 §4.2/§4.3 and RFC 7641 §3.6: a message we cannot relate to anything is rejected with Reset
      // (pings to us included); a NON request is silently ignored.
      if (message.type === 'CON' || isResponse(message)) this.answer(message, source, 'RST');
      return;
    }
    if (message.type === 'CON') this.answer(message, source, 'ACK');
    this.deliver(listener, message, source);
  }

  private deliver(listener: ResponseListener, message: Message, source: Peer): void {
    try {
      listener(message, source);
    } catch (error) {
      this.options.log.error({ err: error, source }, 'coap response handler threw');
    }
  }

  private receiveReply(message: Message, source: Peer): void {
    const pending = this.confirmables.get(`${peerKey(source)}#${message.messageId}`);
    if (pending === undefined) return;
    pending.resolve(message);
    const listener = this.listeners.get(this.listenerKey(source, message.token));
    if (message.type === 'ACK' && !isEmpty(message) && listener !== undefined) this.deliver(listener, message, source);
  }

  /** RFC 7252 §4.5: a CON or NON seen before (same peer, message id) is answered as before, never processed twice. */
  private isDuplicate(message: Message, source: Peer): boolean {
    const state = this.seen.begin(`${peerKey(source)}#${message.messageId}`);
    if (!state.seen) return false;
    if (state.reply !== undefined) void this.sendDatagram(source, state.reply).catch(() => undefined);
    return true;
  }

  private answer(message: Message, source: Peer, type: 'ACK' | 'RST'): void {
    const reply = encodeMessage({
      type,
      code: EMPTY_CODE,
      messageId: message.messageId,
      token: Buffer.alloc(0),
      options: [],
      payload: Buffer.alloc(0),
    });
    this.seen.complete(`${peerKey(source)}#${message.messageId}`, reply);
    void this.sendDatagram(source, reply).catch((error: unknown) =>
      this.options.log.debug({ err: error, source }, `could not send ${type}`),
    );
  }
}

/**
 * Notifications from thousands of observed devices arrive in bursts: the kernel's default ~200 KB
 * receive queue overflows (RcvbufErrors) whenever the event loop stalls briefly. Capped by net.core.rmem_max.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

function enlargeReceiveBuffer(socket: dgram.Socket): void {
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  } catch {
    // Not permitted here: the default queue still works, with drops under bursts.
  }
}
