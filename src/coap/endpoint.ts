import { randomBytes, randomInt } from 'node:crypto';
import dgram, { type RemoteInfo } from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { encodeDatagram } from './encoder.js';
import { decodeMessage, EMPTY_CODE, isEmpty, isResponse, type Message, type MessageType } from './message.js';
import { peerKey, peerOf } from './peer.js';
import { DedupCache } from './dedup-cache.js';
import { bindSocket, literalLookup, openGroupSocket, tuneBuffers } from './sockets.js';
import { exchangeLifetimeMs, initialTimeoutMs, type TransmissionTiming } from './timing.js';
import { CoapTimeoutError, CoapTransportError, type Peer } from './types.js';

/**
 * Receives every response carrying a token this endpoint handed out, from the peer it was sent to. An object
 * rather than a function: an observation is its own listener for as long as it lives, with no closure per stream.
 */
export interface ResponseListener {
  response(message: Message, source: Peer): void;
}

/** A request that arrived (CON or NON with a method code), not seen before from its peer (RFC 7252 §4.5). */
export interface IncomingRequest {
  message: Message;
  source: Peer;
  /** Received on a multicast group socket (RFC 7252 §8). */
  multicast: boolean;
  /** The source as the endpoint keys its peers (address and port). */
  peer: string;
}

/** The server role of an endpoint: gets every new request; without one, a CON request is answered with Reset. */
export type RequestReceiver = (request: IncomingRequest) => void;

interface PendingConfirmable {
  resolve(reply: Message): void;
}

// One cache for both roles (requests from devices, notifications and separate responses to our requests),
// keyed by (request or response, peer, message id): see receive().
const MAX_SEEN = 65_536;
/** Added to a response's message id in the deduplication key: message ids are 16 bits, so roles never collide. */
const RESPONSE_ROLE = 0x10000;
// Message ids are per peer (RFC 7252 §4.4); the oldest peers' counters go first past this many.
const MAX_PEERS = 100_000;
const ANY_PEER = '*';
const EMPTY = Buffer.alloc(0);

export interface EndpointOptions {
  log: Logger;
  /** Local address; `::` (default) is one dual-stack socket, an IPv4 address an IPv4-only one. */
  bind?: string;
  /** 0 picks an ephemeral port. */
  port: number;
  timing: TransmissionTiming;
  /** Groups joined on the endpoint's port (e.g. 224.0.1.187, RFC 7252 §12.8); requests on them are `multicast`. */
  multicastGroups?: Array<{ group: string; interface?: string }>;
}

/** RFC 7252 §3: version 1 and a token of at most 8 bytes; anything else is a message format error. */
function headerOf(datagram: Buffer): { type: MessageType; messageId: number; wellFormed: boolean } | undefined {
  if (datagram.length < 4 || datagram[0]! >> 6 !== 1) return undefined;
  const type = (['CON', 'NON', 'ACK', 'RST'] as const)[(datagram[0]! >> 4) & 3]!;
  return { type, messageId: datagram.readUInt16BE(2), wellFormed: (datagram[0]! & 0x0f) <= 8 };
}

/**
 * A datagram we must not answer: port 0 is not a valid source (RFC 768 makes it "no port"), and
 * replying to it throws in Node. Raw sockets cannot send from port 0, so tests check this function.
 */
export const isUnanswerable = (remote: Pick<RemoteInfo, 'port'>): boolean => remote.port === 0;

/**
 * One CoAP endpoint (RFC 7252 §1.2: a socket address) and the message layer over it, for both roles at
 * once, as Californium's and Leshan's endpoints are: the gateway serves the Resource Directory and sends
 * every request to a device from the same socket, because a device that `connect()`s its socket (Wakaama,
 * Zephyr, Anjay) or sits behind a NAT only accepts datagrams from the address and port it registered to.
 *
 * Shared between the roles: message ids per peer (our CON requests, separate responses and NON replies
 * draw from one counter, so none repeats towards a peer within EXCHANGE_LIFETIME, §4.4), duplicate
 * detection by (peer, message id) for every CON and NON received, requests and responses apart (§4.5),
 * and the socket. Requests go to
 * the `RequestReceiver` (the server); ACK and RST to the CON they answer (matched by peer and message
 * id); responses to the exchange that holds their token (matched by peer and token, §5.3.2).
 */
export class Endpoint {
  private socket: dgram.Socket | undefined;
  private groupSockets: dgram.Socket[] = [];
  private v6 = true;
  private opening: Promise<void> | undefined;
  private closed = false;
  private receiver: RequestReceiver | undefined;
  /** Datagrams the wildcard socket got while groups are joined, processed after the group sockets' copies. */
  private deferred: Array<[Buffer, RemoteInfo]> = [];
  private readonly messageIds = new Map<string, number>();
  private readonly confirmables = new Map<string, PendingConfirmable>();
  private readonly listeners = new Map<string, ResponseListener>();
  private readonly seen: DedupCache;

  constructor(private readonly options: EndpointOptions) {
    this.seen = new DedupCache({ maxEntries: MAX_SEEN, lifetimeMs: exchangeLifetimeMs(options.timing) });
  }

  /** Binds the socket and joins the groups, once; later calls wait for the first. */
  open(): Promise<void> {
    this.opening ??= this.bind();
    return this.opening;
  }

  /** Resolves once bound (rejects when binding failed). */
  get bound(): Promise<void> {
    return this.open();
  }

  get isOpen(): boolean {
    return this.socket !== undefined && !this.closed;
  }

  /** The server role: every new request goes to `receiver` (undefined: CON requests are reset again). */
  serve(receiver: RequestReceiver | undefined): void {
    this.receiver = receiver;
  }

  /** RFC 7252 §8.1: multicast requests leave through the interface with this address (e.g. `127.0.0.1` in tests). */
  async setMulticastInterface(address: string): Promise<void> {
    await this.open();
    this.socket?.setMulticastInterface(address);
  }

  address(): Peer {
    if (this.socket === undefined) throw new Error('the CoAP endpoint is not bound');
    const info = this.socket.address();
    return peerOf(info.address, info.port);
  }

  /** Counters of what the endpoint holds for exchanges in progress: tests check nothing is left behind. */
  inFlight(): { confirmables: number; listeners: number } {
    return { confirmables: this.confirmables.size, listeners: this.listeners.size };
  }

  nextMessageId(peer: Peer): number {
    const key = peerKey(peer);
    const previous = this.messageIds.get(key);
    const next = ((previous ?? randomInt(0x10000)) + 1) & 0xffff;
    if (previous !== undefined) this.messageIds.delete(key);
    else if (this.messageIds.size >= MAX_PEERS) this.messageIds.delete(this.messageIds.keys().next().value!);
    // Re-inserted: the map's order is least recently used first.
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

  /** Routes responses with `token` from `peer` (or from anyone, for multicast) to `listener` until forget(). */
  expect(peer: Peer | undefined, token: Buffer, listener: ResponseListener): void {
    this.listeners.set(this.listenerKey(peer, token), listener);
  }

  /** Ends expect(): a token handed to another listener since is left alone. */
  forget(peer: Peer | undefined, token: Buffer, listener: ResponseListener): void {
    const key = this.listenerKey(peer, token);
    if (this.listeners.get(key) === listener) this.listeners.delete(key);
  }

  async send(peer: Peer, message: Message): Promise<void> {
    await this.sendDatagram(peer, encodeDatagram(message));
  }

  /**
   * Sends a CON and retransmits it with exponential back-off (RFC 7252 §4.2) until an ACK or RST with its
   * message id arrives (resolved with that message), the retransmissions run out (CoapTimeoutError) or `signal` aborts.
   */
  confirm(peer: Peer, message: Message, signal: AbortSignal): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const key = `${peerKey(peer)}#${message.messageId}`;
      const datagram = encodeDatagram(message);
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

  /**
   * The server's answer to a request: sent, and kept for the request's duplicates (RFC 7252 §4.5) when it
   * answers a CON (a piggybacked response or an empty ACK before a separate one).
   */
  reply(request: IncomingRequest, datagram: Buffer, remember: boolean): void {
    if (remember) this.seen.complete(request.peer, request.message.messageId, datagram);
    this.sendQuietly(request.source, datagram);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiver = undefined;
    this.listeners.clear();
    this.seen.clear();
    this.deferred = [];
    await this.opening?.catch(() => undefined);
    const sockets = [...this.groupSockets, ...(this.socket === undefined ? [] : [this.socket])];
    this.groupSockets = [];
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private async bind(): Promise<void> {
    const bind = this.options.bind ?? '::';
    const groups = this.options.multicastGroups ?? [];
    // Group sockets bind the same port (RFC 7252 §12.8): the unicast socket must allow it.
    const reuseAddr = groups.length > 0;
    this.v6 = !isIPv4(bind);
    const socket = this.v6
      ? dgram.createSocket({ type: 'udp6', ipv6Only: false, reuseAddr, lookup: literalLookup })
      : dgram.createSocket({ type: 'udp4', reuseAddr, lookup: literalLookup });
    try {
      await bindSocket(socket, this.options.port, bind);
    } catch (error) {
      socket.close();
      throw error;
    }
    if (this.closed) {
      socket.close();
      throw new CoapTransportError('coap endpoint closed');
    }
    this.socket = socket;
    tuneBuffers(socket);
    // Linux also delivers a group's datagrams to an IPv4 wildcard socket on the port (IP_MULTICAST_ALL),
    // often first: the unicast socket's datagrams wait one turn so the group socket's copy is seen
    // first, marked multicast, and the other copy is dropped as a duplicate.
    const deferUnicast = (bind === '::' || bind === '0.0.0.0') && groups.length > 0;
    socket.on('message', (data, remote) =>
      deferUnicast ? this.defer(data, remote) : this.receive(data, remote, false),
    );
    // ICMP-reported failures and the like surface here; they must never crash the gateway.
    socket.on('error', (error) => this.options.log.debug({ err: error }, 'coap socket error'));
    const { port } = socket.address();
    for (const group of new Set(groups.map((g) => g.group))) {
      const interfaces = groups.filter((g) => g.group === group).map((g) => g.interface);
      const onMessage = (data: Buffer, remote: RemoteInfo): void => this.receive(data, remote, true);
      const joined = await openGroupSocket(group, interfaces, port, this.options.log, onMessage);
      if (joined !== undefined) this.groupSockets.push(joined);
    }
  }

  private defer(data: Buffer, remote: RemoteInfo): void {
    if (this.deferred.push([data, remote]) > 1) return;
    setImmediate(() => {
      const batch = this.deferred;
      this.deferred = [];
      for (const [datagram, from] of batch) this.receive(datagram, from, false);
    });
  }

  private listenerKey(peer: Peer | undefined, token: Buffer): string {
    return `${peer === undefined ? ANY_PEER : peerKey(peer)}#${token.toString('hex')}`;
  }

  private target(peer: Peer): string {
    return this.v6 && peer.family === 'IPv4' ? `::ffff:${peer.address}` : peer.address;
  }

  private async sendDatagram(peer: Peer, datagram: Buffer): Promise<void> {
    await this.open();
    const socket = this.socket;
    if (this.closed || socket === undefined) throw new CoapTransportError('coap endpoint closed');
    await new Promise<void>((resolve, reject) => {
      socket.send(datagram, peer.port, this.target(peer), (error) =>
        error
          ? reject(
              new CoapTransportError(`cannot send to ${peer.address}:${peer.port}: ${error.message}`, { cause: error }),
            )
          : resolve(),
      );
    });
  }

  /** No callback (one tick less per reply): a failed send is lost like any datagram; CON peers retransmit. */
  private sendQuietly(peer: Peer, datagram: Buffer): void {
    if (this.closed || this.socket === undefined) return;
    this.socket.send(datagram, peer.port, this.target(peer));
  }

  private receive(datagram: Buffer, remote: RemoteInfo, multicast: boolean): void {
    if (this.closed || isUnanswerable(remote)) return;
    const header = headerOf(datagram);
    if (header === undefined) return;
    // A group's copy arrives as IPv4 and the dual-stack copy IPv4-mapped: one peer for both.
    const source = peerOf(remote.address, remote.port);
    let message: Message | undefined;
    try {
      message = header.wellFormed ? decodeMessage(datagram) : undefined;
    } catch {
      message = undefined;
    }
    if (header.type === 'ACK' || header.type === 'RST') {
      if (message !== undefined) this.receiveReply(message, source);
      return;
    }
    // RFC 7252 §4.2, §4.3: a CON we cannot process (format error, ping) is rejected with Reset; such a NON is ignored.
    if (message === undefined || isEmpty(message)) {
      if (header.type === 'CON') this.sendQuietly(source, resetFor(header.messageId));
      return;
    }
    // RFC 7252 §4.5 deduplicates by (source endpoint, message id). The id it is kept under also says whether it is a
    // request or a response: a retransmission is the same message, so it never changes sides, while peers that
    // keep one message-id counter per role on one socket do reuse an id across them. The `coap` package (1.5)
    // does: its agent's registration and its server's notifications (coap-packet's counter) share a port, and
    // a notification carrying the registration's id was dropped as its duplicate.
    const peer = peerKey(source);
    const response = isResponse(message);
    const id = response ? message.messageId | RESPONSE_ROLE : message.messageId;
    const seen = this.seen.begin(peer, id);
    if (seen.seen) {
      // RFC 7252 §4.5: a duplicate CON gets the same reply again; a duplicate still in progress, or a NON, nothing.
      if (seen.reply !== undefined) this.sendQuietly(source, seen.reply);
      return;
    }
    if (response) return this.receiveResponse(message, source, peer, id);
    if (this.receiver !== undefined) return this.receiver({ message, source, multicast, peer });
    if (message.type === 'CON') this.answer(message, source, peer, id, 'RST');
  }

  private receiveResponse(message: Message, source: Peer, peer: string, id: number): void {
    const listener =
      this.listeners.get(this.listenerKey(source, message.token)) ??
      this.listeners.get(this.listenerKey(undefined, message.token));
    if (listener === undefined) {
      // RFC 7252 §4.2/§4.3 and RFC 7641 §3.6: a response we cannot relate to anything is rejected with Reset.
      this.answer(message, source, peer, id, 'RST');
      return;
    }
    if (message.type === 'CON') this.answer(message, source, peer, id, 'ACK');
    this.deliver(listener, message, source);
  }

  private deliver(listener: ResponseListener, message: Message, source: Peer): void {
    try {
      listener.response(message, source);
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

  private answer(message: Message, source: Peer, peer: string, id: number, type: 'ACK' | 'RST'): void {
    const reply = encodeDatagram({
      type,
      code: EMPTY_CODE,
      messageId: message.messageId,
      token: EMPTY,
      options: [],
      payload: EMPTY,
    });
    this.seen.complete(peer, id, reply);
    this.sendQuietly(source, reply);
  }
}

function resetFor(messageId: number): Buffer {
  return encodeDatagram({ type: 'RST', code: EMPTY_CODE, messageId, token: EMPTY, options: [], payload: EMPTY });
}
