import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { Block1Assembler, Block2Cache } from './block.js';
import { DedupCache } from './dedup-cache.js';
import { encodeDatagram } from './encoder.js';
import { bindSocket, literalLookup, openGroupSocket, tuneBuffers } from './sockets.js';
import { decodeMessage, type Message, type MessageType } from './message.js';
import { encodeUint, OptionNumber, szxFor } from './options.js';
import { peerOf } from './peer.js';
import { methodOf, readRequestOptions, type RequestOptions } from './request-options.js';
import { bareResponse, echoBlock1, renderResponse, type WireResponse } from './response-options.js';
import { CoapError, type CoapHandler, type CoapRequest, type CoapResponse, type Peer } from './types.js';

export interface CoapServerOptions {
  handler: CoapHandler;
  log: Logger;
  /** Default `::`: one dual-stack socket; IPv4 peers arrive as `::ffff:a.b.c.d` and are shown as plain IPv4. */
  bind?: string;
  /** 0 picks an ephemeral port. */
  port: number;
  /** Request payload limit after Block1 reassembly; larger gets 4.13 with Size1 (RFC 7959 §4). */
  maxPayloadBytes?: number;
  /** Called before the handler: allowed networks (4.03), rate limits (5.03 + Max-Age). */
  admit?: (peer: Peer) => CoapError | undefined;
  /** Groups to join (e.g. 224.0.1.187, RFC 7252 §12.8); requests received on them have `multicast: true`. */
  multicastGroups?: Array<{ group: string; interface?: string }>;
}

const DEFAULT_MAX_PAYLOAD = 64 * 1024;
/** RFC 7252 §4.6: responses stay within 1152-byte datagrams; larger bodies go block-wise. */
const MAX_BLOCK_SZX = szxFor(1024);
const EMPTY = Buffer.alloc(0);

/** RFC 7252 §4.2: CON and NON carry requests; ACK and RST only answer our own messages, which we never send. */
const isRequestType = (type: MessageType): boolean => type === 'CON' || type === 'NON';

/**
 * A datagram we must not answer: port 0 is not a valid source (RFC 768 makes it "no port"), and
 * replying to it throws in Node. Raw sockets cannot send from port 0, so tests check this function.
 */
export const isUnanswerable = (remote: Pick<RemoteInfo, 'port'>): boolean => remote.port === 0;

/** RFC 7252 §3: version 1 and a token of at most 8 bytes; anything else is a message format error. */
function headerOf(datagram: Buffer): { type: MessageType; messageId: number; wellFormed: boolean } | undefined {
  if (datagram.length < 4 || datagram[0]! >> 6 !== 1) return undefined;
  const type = (['CON', 'NON', 'ACK', 'RST'] as const)[(datagram[0]! >> 4) & 3]!;
  return { type, messageId: datagram.readUInt16BE(2), wellFormed: (datagram[0]! & 0x0f) <= 8 };
}

/**
 * The lean CoAP server the Resource Directory runs on (RFC 7252 server side, RFC 7959 block-wise):
 * coap-packet parses, `encodeDatagram` encodes. Chosen over the `coap` package's server for the faults our RD bench measured (docs/architecture.md):
 * unbounded dedup cache, leaked error text to the wrong peer, crash on source port 0.
 */
export class CoapServer {
  private socket: Socket | undefined;
  private groupSockets: Socket[] = [];
  private readonly dedup = new DedupCache();
  private readonly block1: Block1Assembler;
  private readonly bodies = new Block2Cache();
  private readonly maxPayloadBytes: number;
  private nextMessageId = Math.floor(Math.random() * 0x10000);
  /** Datagrams the wildcard socket got while multicast is on, processed after the group sockets' copies. */
  private deferred: Array<[Buffer, RemoteInfo]> = [];
  private closed = false;
  private dualStack = false;

  constructor(private readonly options: CoapServerOptions) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    this.block1 = new Block1Assembler({ maxPayloadBytes: this.maxPayloadBytes });
  }

  async listen(): Promise<{ address: string; port: number }> {
    const bind = this.options.bind ?? '::';
    const groups = this.options.multicastGroups ?? [];
    const reuseAddr = groups.length > 0;
    const socket = isIPv4(bind)
      ? dgram.createSocket({ type: 'udp4', reuseAddr, lookup: literalLookup })
      : dgram.createSocket({ type: 'udp6', ipv6Only: false, reuseAddr, lookup: literalLookup });
    this.socket = socket;
    this.dualStack = !isIPv4(bind);
    this.closed = false;
    try {
      await bindSocket(socket, this.options.port, bind);
    } catch (err) {
      socket.close();
      this.socket = undefined;
      throw err;
    }
    tuneBuffers(socket);
    // Linux also delivers a group's datagrams to an IPv4 wildcard socket on the port (IP_MULTICAST_ALL),
    // often first: the unicast socket's datagrams wait one turn so the group socket's copy is seen
    // first, marked multicast, and the other copy is dropped as a duplicate.
    const wildcard = bind === '::' || bind === '0.0.0.0';
    const deferUnicast = wildcard && groups.length > 0;
    socket.on('message', (data, remote) =>
      deferUnicast ? this.defer(data, remote) : this.receive(data, remote, false),
    );
    socket.on('error', (err) => this.options.log.warn({ err }, 'coap socket error'));
    const { port } = socket.address();
    for (const group of new Set(groups.map((g) => g.group))) {
      const interfaces = groups.filter((g) => g.group === group).map((g) => g.interface);
      const onMessage = (data: Buffer, remote: RemoteInfo): void => this.receive(data, remote, true);
      const joined = await openGroupSocket(group, interfaces, port, this.options.log, onMessage);
      if (joined !== undefined) this.groupSockets.push(joined);
    }
    const address = this.address();
    this.options.log.info({ ...address, groups: groups.map((g) => g.group) }, 'coap server listening');
    return address;
  }

  address(): { address: string; port: number } {
    if (this.socket === undefined) throw new Error('CoapServer is not listening');
    const { address, port } = this.socket.address();
    return { address, port };
  }

  async close(): Promise<void> {
    this.closed = true;
    const sockets = [...this.groupSockets, ...(this.socket === undefined ? [] : [this.socket])];
    this.groupSockets = [];
    this.socket = undefined;
    this.deferred = [];
    this.dedup.clear();
    this.block1.clear();
    this.bodies.clear();
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private defer(data: Buffer, remote: RemoteInfo): void {
    if (this.deferred.push([data, remote]) > 1) return;
    setImmediate(() => {
      const batch = this.deferred;
      this.deferred = [];
      for (const [datagram, from] of batch) this.receive(datagram, from, false);
    });
  }

  private receive(datagram: Buffer, remote: RemoteInfo, multicast: boolean): void {
    if (this.closed || isUnanswerable(remote)) return;
    const header = headerOf(datagram);
    if (header === undefined || !isRequestType(header.type)) return;
    let message: Message | undefined;
    try {
      message = header.wellFormed ? decodeMessage(datagram) : undefined;
    } catch {
      message = undefined;
    }
    // RFC 7252 §4.2, §4.3: a CON we cannot process (format error, ping, a response we never asked for) is
    // rejected with RST; such a NON is silently ignored.
    if (message === undefined || !message.code.startsWith('0.') || message.code === '0.00') {
      if (header.type === 'CON') this.send(resetFor(header.messageId), remote);
      return;
    }
    // A group's copy arrives as IPv4 and the dual-stack copy IPv4-mapped: one key for both.
    const source = peerOf(remote.address, remote.port);
    const key = `${source.address}|${source.port}|${message.messageId}`;
    const seen = this.dedup.begin(key);
    if (seen.seen) {
      // RFC 7252 §4.5: a duplicate CON gets the same reply again; a duplicate still in progress, or a NON, nothing.
      if (seen.reply !== undefined) this.send(seen.reply, remote);
      return;
    }
    this.handle(message, remote, source, multicast, key);
  }

  private handle(message: Message, remote: RemoteInfo, source: Peer, multicast: boolean, key: string): void {
    const reply = (response: WireResponse): void => this.reply(message, remote, multicast, key, response);
    const method = methodOf(message.code);
    // RFC 7252 §5.8: an unrecognised or unsupported method code is answered 4.05.
    if (method === undefined) return reply(bareResponse('4.05'));
    const read = readRequestOptions(message.options);
    if (!read.ok) return reply(bareResponse(read.code, [], read.diagnostic));
    const body = this.requestBody(read.options, message.payload, key);
    if ('code' in body) return reply(body);
    const request: CoapRequest = {
      method,
      path: read.options.path,
      query: read.options.query,
      contentFormat: read.options.contentFormat,
      accept: read.options.accept,
      observe: read.options.observe,
      payload: body.payload,
      source,
      multicast,
    };
    const block2 = read.options.block2;
    // A GET's later blocks come from the body kept when its first block was served.
    const bodyKey =
      method === 'GET'
        ? `${source.address}|${source.port} ${request.path.join('/')}?${request.query.join('&')} ${request.accept}`
        : undefined;
    const render = (response: CoapResponse): void => {
      const blockBytes = 16 << Math.min(block2?.szx ?? MAX_BLOCK_SZX, MAX_BLOCK_SZX);
      const served = bodyKey === undefined ? response : this.bodies.keep(bodyKey, response, blockBytes);
      const wire = renderResponse(served, block2, MAX_BLOCK_SZX);
      if (read.options.block1 !== undefined) wire.options.push(echoBlock1(read.options.block1));
      reply(wire);
    };
    // Whatever throws from here on (admit, the handler, rendering what it returned) is answered, never a crash.
    const fail = (err: unknown): void => reply(this.failure(err, request));
    try {
      const refused = this.options.admit?.(source);
      if (refused !== undefined) return reply(errorResponse(refused));
      const kept = bodyKey !== undefined && (block2?.num ?? 0) > 0 ? this.bodies.get(bodyKey) : undefined;
      if (kept !== undefined) return render(kept);
      const result = this.options.handler(request);
      if (result instanceof Promise) result.then(render).catch(fail);
      else render(result);
    } catch (err) {
      fail(err);
    }
  }

  /** The whole request body: the payload itself, or Block1 blocks reassembled (RFC 7959 §2.5). */
  private requestBody(options: RequestOptions, payload: Buffer, key: string): { payload: Buffer } | WireResponse {
    const tooLarge = (): WireResponse =>
      bareResponse('4.13', [{ number: OptionNumber.size1, value: encodeUint(this.maxPayloadBytes) }]);
    if ((options.size1 ?? 0) > this.maxPayloadBytes) return tooLarge();
    const block = options.block1;
    if (block === undefined) return payload.length > this.maxPayloadBytes ? tooLarge() : { payload };
    const transferKey = `${key.slice(0, key.lastIndexOf('|'))} ${options.path.join('/')}?${options.query.join('&')}`;
    const result = this.block1.add(transferKey, block, payload);
    switch (result.state) {
      case 'complete':
        return { payload: result.payload };
      case 'continue':
        return bareResponse('2.31', [echoBlock1(block)]);
      case 'incomplete':
        return bareResponse('4.08');
      case 'too-large':
        return tooLarge();
    }
  }

  private failure(err: unknown, request: CoapRequest): WireResponse {
    if (err instanceof CoapError) return errorResponse(err);
    this.options.log.error(
      { err, peer: request.source, method: request.method, path: request.path.join('/') },
      'coap handler failed',
    );
    return bareResponse('5.00');
  }

  private reply(request: Message, remote: RemoteInfo, multicast: boolean, key: string, response: WireResponse): void {
    // RFC 7252 §8.2: no error responses to multicast requests.
    if (multicast && (response.code.startsWith('4.') || response.code.startsWith('5.'))) return;
    const confirmable = request.type === 'CON';
    const datagram = encodeDatagram({
      type: confirmable ? 'ACK' : 'NON',
      code: response.code,
      messageId: confirmable ? request.messageId : this.takeMessageId(),
      token: request.token,
      options: response.options,
      payload: response.payload,
    });
    if (confirmable) this.dedup.complete(key, datagram);
    this.send(datagram, remote);
  }

  private takeMessageId(): number {
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff;
    return this.nextMessageId;
  }

  private send(datagram: Buffer, remote: RemoteInfo): void {
    if (this.closed || this.socket === undefined) return;
    // A group socket's peer is plain IPv4; the dual-stack socket sends to it IPv4-mapped.
    const address = this.dualStack && isIPv4(remote.address) ? `::ffff:${remote.address}` : remote.address;
    // No callback (one tick less per reply): a failed send is lost like any datagram; CON peers retransmit.
    this.socket.send(datagram, remote.port, address);
  }
}

function errorResponse(err: CoapError): WireResponse {
  const options = err.maxAge === undefined ? [] : [{ number: OptionNumber.maxAge, value: encodeUint(err.maxAge) }];
  return bareResponse(err.code, options, err.message);
}

function resetFor(messageId: number): Buffer {
  return encodeDatagram({ type: 'RST', code: '0.00', messageId, token: EMPTY, options: [], payload: EMPTY });
}
