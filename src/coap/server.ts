import type { Logger } from '../log.js';
import { Block1Assembler, Block2Cache } from './block.js';
import { encodeDatagram } from './encoder.js';
import { Endpoint, isUnanswerable, type IncomingRequest } from './endpoint.js';
import { EMPTY_CODE } from './message.js';
import { encodeUint, OptionNumber, szxFor } from './options.js';
import { methodOf, readRequestOptions, type RequestOptions } from './request-options.js';
import { bareResponse, echoBlock1, renderResponse, type WireResponse } from './response-options.js';
import { DEFAULT_TIMING } from './timing.js';
import { CoapError, type CoapHandler, type CoapRequest, type CoapResponse, type Peer } from './types.js';

export interface CoapServerOptions {
  handler: CoapHandler;
  log: Logger;
  /**
   * The endpoint to serve on, shared with the client that requests from the same socket (the gateway's).
   * Without one the server opens an endpoint of its own on `bind` and `port`.
   */
  endpoint?: Endpoint;
  /** Default `::`: one dual-stack socket; IPv4 peers arrive as `::ffff:a.b.c.d` and are shown as plain IPv4. */
  bind?: string;
  /** 0 picks an ephemeral port. */
  port?: number;
  /** Request payload limit after Block1 reassembly; larger gets 4.13 with Size1 (RFC 7959 §4). */
  maxPayloadBytes?: number;
  /** Called before the handler: allowed networks (4.03), rate limits (5.03 + Max-Age). */
  admit?: (peer: Peer) => CoapError | undefined;
  /** Groups to join (e.g. 224.0.1.187, RFC 7252 §12.8) on an endpoint of its own; a shared one joins its own. */
  multicastGroups?: Array<{ group: string; interface?: string }>;
}

const DEFAULT_MAX_PAYLOAD = 64 * 1024;
/** RFC 7252 §4.6: responses stay within 1152-byte datagrams; larger bodies go block-wise. */
const MAX_BLOCK_SZX = szxFor(1024);
const EMPTY = Buffer.alloc(0);

export { isUnanswerable };

/**
 * The lean CoAP server the Resource Directory runs on (RFC 7252 server side, RFC 7959 block-wise), the
 * server role of an `Endpoint`: coap-packet parses, `encodeDatagram` encodes. Chosen over the `coap`
 * package's server for the faults our RD bench measured (docs/architecture.md): unbounded dedup cache,
 * leaked error text to the wrong peer, crash on source port 0.
 */
export class CoapServer {
  private readonly endpoint: Endpoint;
  private readonly ownsEndpoint: boolean;
  private readonly block1: Block1Assembler;
  private readonly bodies = new Block2Cache();
  private readonly maxPayloadBytes: number;
  /** Separate responses still waiting for their ACK: close() ends their retransmissions. */
  private readonly separate = new AbortController();
  /** Requests answered with an empty ACK whose response goes separately. */
  private readonly acknowledged = new Set<IncomingRequest>();
  private closed = false;

  constructor(private readonly options: CoapServerOptions) {
    this.maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    this.block1 = new Block1Assembler({ maxPayloadBytes: this.maxPayloadBytes });
    this.ownsEndpoint = options.endpoint === undefined;
    this.endpoint =
      options.endpoint ??
      new Endpoint({
        log: options.log,
        bind: options.bind ?? '::',
        port: options.port ?? 0,
        timing: DEFAULT_TIMING,
        multicastGroups: options.multicastGroups ?? [],
      });
  }

  async listen(): Promise<{ address: string; port: number }> {
    this.closed = false;
    await this.endpoint.open();
    this.endpoint.serve((request) => this.receive(request));
    const address = this.address();
    const groups = (this.options.multicastGroups ?? []).map((g) => g.group);
    this.options.log.info({ ...address, groups }, 'coap server listening');
    return address;
  }

  address(): { address: string; port: number } {
    if (!this.endpoint.isOpen) throw new Error('CoapServer is not listening');
    const { address, port } = this.endpoint.address();
    return { address, port };
  }

  /** Stops serving; closes the endpoint only when it is the server's own. */
  async close(): Promise<void> {
    this.closed = true;
    this.endpoint.serve(undefined);
    this.separate.abort();
    this.block1.clear();
    this.bodies.clear();
    if (this.ownsEndpoint) await this.endpoint.close();
  }

  private receive(incoming: IncomingRequest): void {
    if (this.closed) return;
    const { message } = incoming;
    const reply = (response: WireResponse): void => this.reply(incoming, response);
    const method = methodOf(message.code);
    // RFC 7252 §5.8: an unrecognised or unsupported method code is answered 4.05.
    if (method === undefined) return reply(bareResponse('4.05', [], `unknown method code ${message.code}`));
    const read = readRequestOptions(message.options);
    if (!read.ok) return reply(bareResponse(read.code, [], read.diagnostic));
    const { source, multicast } = incoming;
    const body = this.requestBody(read.options, message.payload, incoming.peer);
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
      acknowledge: () => this.acknowledge(incoming),
    };
    const block2 = read.options.block2;
    // A GET's later blocks come from the body kept when its first block was served. The key is built only when a
    // body is kept or looked for: nearly every response fits one datagram.
    const bodyKey = (): string =>
      `${incoming.peer} ${request.path.join('/')}?${request.query.join('&')} ${request.accept}`;
    const render = (response: CoapResponse): void => {
      const blockBytes = 16 << Math.min(block2?.szx ?? MAX_BLOCK_SZX, MAX_BLOCK_SZX);
      const served = method === 'GET' ? this.bodies.keep(bodyKey, response, blockBytes) : response;
      const wire = renderResponse(served, block2, MAX_BLOCK_SZX);
      if (read.options.block1 !== undefined) wire.options.push(echoBlock1(read.options.block1));
      reply(wire);
    };
    // Whatever throws from here on (admit, the handler, rendering what it returned) is answered, never a crash.
    const fail = (err: unknown): void => reply(this.failure(err, request));
    try {
      const refused = this.options.admit?.(source);
      if (refused !== undefined) return reply(errorResponse(refused));
      const kept = method === 'GET' && (block2?.num ?? 0) > 0 ? this.bodies.get(bodyKey()) : undefined;
      if (kept !== undefined) return render(kept);
      const result = this.options.handler(request);
      if (result instanceof Promise) result.then(render).catch(fail);
      else render(result);
    } catch (err) {
      fail(err);
    }
  }

  /** The whole request body: the payload itself, or Block1 blocks reassembled (RFC 7959 §2.5). */
  private requestBody(options: RequestOptions, payload: Buffer, peer: string): { payload: Buffer } | WireResponse {
    const tooLarge = (): WireResponse =>
      bareResponse(
        '4.13',
        [{ number: OptionNumber.size1, value: encodeUint(this.maxPayloadBytes) }],
        `request body larger than ${this.maxPayloadBytes} bytes`,
      );
    if ((options.size1 ?? 0) > this.maxPayloadBytes) return tooLarge();
    const block = options.block1;
    if (block === undefined) return payload.length > this.maxPayloadBytes ? tooLarge() : { payload };
    // RFC 7959 §2.4: the blocks of one transfer come from one endpoint, for one resource and query.
    const transferKey = `${peer} ${options.path.join('/')}?${options.query.join('&')}`;
    const result = this.block1.add(transferKey, block, payload);
    switch (result.state) {
      case 'complete':
        return { payload: result.payload };
      case 'continue':
        return bareResponse('2.31', [echoBlock1(block)]);
      case 'incomplete':
        return bareResponse('4.08', [], 'Block1 blocks missing or out of order');
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

  /**
   * RFC 7252 §5.2.2: an empty ACK now, the response later as a separate CON (what `acknowledge` asks for).
   * Kept for the request's duplicates, so a retransmitted request is acknowledged again, not executed.
   */
  private acknowledge(incoming: IncomingRequest): void {
    if (incoming.message.type !== 'CON' || this.acknowledged.has(incoming) || this.closed) return;
    this.acknowledged.add(incoming);
    const ack = encodeDatagram({
      type: 'ACK',
      code: EMPTY_CODE,
      messageId: incoming.message.messageId,
      token: EMPTY,
      options: [],
      payload: EMPTY,
    });
    this.endpoint.reply(incoming, ack, true);
  }

  private reply(incoming: IncomingRequest, response: WireResponse): void {
    const { message: request, source, multicast } = incoming;
    // RFC 7252 §8.2: no error responses to multicast requests.
    if (multicast && (response.code.startsWith('4.') || response.code.startsWith('5.'))) return;
    if (this.acknowledged.delete(incoming)) return this.sendSeparate(incoming, response);
    const confirmable = request.type === 'CON';
    const datagram = encodeDatagram({
      type: confirmable ? 'ACK' : 'NON',
      code: response.code,
      messageId: confirmable ? request.messageId : this.endpoint.nextMessageId(source),
      token: request.token,
      options: response.options,
      payload: response.payload,
    });
    this.endpoint.reply(incoming, datagram, confirmable);
  }

  /** RFC 7252 §5.2.2: a separate response is a CON of its own, retransmitted until the client acknowledges it. */
  private sendSeparate(incoming: IncomingRequest, response: WireResponse): void {
    const { source } = incoming;
    const message = {
      type: 'CON' as const,
      code: response.code,
      messageId: this.endpoint.nextMessageId(source),
      token: incoming.message.token,
      options: response.options,
      payload: response.payload,
    };
    this.endpoint.confirm(source, message, this.separate.signal).catch((err: unknown) => {
      if (!this.separate.signal.aborted)
        this.options.log.debug({ err, peer: source }, 'separate response unacknowledged');
    });
  }
}

function errorResponse(err: CoapError): WireResponse {
  const options = err.maxAge === undefined ? [] : [{ number: OptionNumber.maxAge, value: encodeUint(err.maxAge) }];
  return bareResponse(err.code, options, err.message);
}
