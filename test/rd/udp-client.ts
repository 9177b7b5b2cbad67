import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { generate, parse, type NamedOption, type ParsedPacket } from 'coap-packet';
import type { CoapMethod } from '../../src/coap/types.js';

export interface TestRequest {
  method: CoapMethod;
  /** `/rd?ep=node1&lt=60` style: path and query in one string. */
  uri: string;
  payload?: string;
  contentFormat?: number;
  accept?: number;
  /** Options beyond those the uri and fields give (a hostile Uri-Port, say), appended as they are. */
  extraOptions?: NamedOption[];
}

export interface TestReply {
  code: string;
  payload: string;
  contentFormat: number | undefined;
  locationPath: string[];
  maxAge: number | undefined;
}

function uint(value: number): Buffer {
  if (value === 0) return Buffer.alloc(0);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}

function readUint(buffer: Buffer): number {
  let value = 0;
  for (const byte of buffer) value = value * 256 + byte;
  return value;
}

/**
 * A deliberately small CoAP client for the RD suites (coap-packet + dgram): one CON per request,
 * matched by token, retransmitted until answered. Each instance has its own socket, i.e. its own
 * source port, so a test can play several devices or one device that moved.
 */
export class TestClient {
  private readonly socket: dgram.Socket;
  private readonly waiting = new Map<string, (packet: ParsedPacket) => void>();
  private messageId = Math.floor(Math.random() * 0xffff);
  /** The token of each request sent, by message id. */
  private readonly tokens = new Map<number, Buffer>();
  /** Links this client serves at `/.well-known/core`, as a device doing simple registration does. */
  wellKnownCore: string | undefined;
  /** Paths of the requests this client has answered, and the source port each came from. */
  readonly served: string[] = [];
  readonly servedFrom: number[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('message', (datagram, remote) => {
      let packet: ParsedPacket;
      try {
        packet = parse(datagram);
      } catch {
        return;
      }
      if (packet.code.startsWith('0.') && packet.code !== '0.00') return this.serve(packet, remote);
      // RFC 7252 §5.2.2: a separate response comes as a CON of its own and is acknowledged.
      if (packet.confirmable) this.acknowledge(packet, remote);
      // An empty ACK carries no token: it answers the request with its message id (RFC 7252 §4.2).
      const token = packet.ack && packet.code === '0.00' ? this.tokens.get(packet.messageId) : packet.token;
      if (token !== undefined) this.waiting.get(token.toString('hex'))?.(packet);
    });
  }

  async bind(): Promise<{ address: string; port: number }> {
    await new Promise<void>((resolve) => this.socket.bind(0, resolve));
    return this.socket.address();
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  async request(req: TestRequest): Promise<TestReply> {
    const queryAt = req.uri.indexOf('?');
    const path = queryAt < 0 ? req.uri : req.uri.slice(0, queryAt);
    const query = queryAt < 0 ? '' : req.uri.slice(queryAt + 1);
    const options: NamedOption[] = [];
    for (const segment of path.split('/').filter(Boolean))
      options.push({ name: 'Uri-Path', value: Buffer.from(segment) });
    if (req.contentFormat !== undefined) options.push({ name: 'Content-Format', value: uint(req.contentFormat) });
    for (const item of query ? query.split('&') : []) options.push({ name: 'Uri-Query', value: Buffer.from(item) });
    if (req.accept !== undefined) options.push({ name: 'Accept', value: uint(req.accept) });
    options.push(...(req.extraOptions ?? []));
    const token = randomBytes(4);
    this.messageId = (this.messageId + 1) & 0xffff;
    this.tokens.set(this.messageId, token);
    const datagram = generate(
      {
        code: req.method,
        confirmable: true,
        messageId: this.messageId,
        token,
        options,
        payload: Buffer.from(req.payload ?? ''),
        // A UDP datagram's limit, not coap-packet's 1280: the hostile-input suites send 60 KB requests.
      },
      65_507,
    );
    const packet = await new Promise<ParsedPacket>((resolve, reject) => {
      let tries = 0;
      const send = (): void => {
        if (tries++ === 6) {
          clearInterval(timer);
          this.waiting.delete(token.toString('hex'));
          reject(new Error(`no answer to ${req.method} ${req.uri}`));
          return;
        }
        this.socket.send(datagram, this.port, this.host);
      };
      const timer = setInterval(send, 1000);
      let giveUp: NodeJS.Timeout | undefined;
      this.waiting.set(token.toString('hex'), (reply) => {
        if (reply.code === '0.00') {
          // An empty ACK: the answer comes separately (RFC 7252 §5.2.2); no more retransmissions.
          this.emptyAcks++;
          clearInterval(timer);
          giveUp = setTimeout(() => {
            this.waiting.delete(token.toString('hex'));
            reject(new Error(`no separate response to ${req.method} ${req.uri}`));
          }, 15_000);
          return;
        }
        clearTimeout(giveUp);
        clearInterval(timer);
        this.waiting.delete(token.toString('hex'));
        resolve(reply);
      });
      send();
    });
    const option = (name: string): Buffer[] => packet.options.filter((o) => o.name === name).map((o) => o.value);
    const ct = option('Content-Format')[0];
    const maxAge = option('Max-Age')[0];
    return {
      code: packet.code,
      payload: packet.payload.toString('utf8'),
      contentFormat: ct === undefined ? undefined : readUint(ct),
      locationPath: option('Location-Path').map((v) => v.toString('utf8')),
      maxAge: maxAge === undefined ? undefined : readUint(maxAge),
    };
  }

  private serve(packet: ParsedPacket, remote: dgram.RemoteInfo): void {
    const path = packet.options
      .filter((o) => o.name === 'Uri-Path')
      .map((o) => o.value.toString())
      .join('/');
    this.served.push(path);
    this.servedFrom.push(remote.port);
    const found = path === '.well-known/core' && this.wellKnownCore !== undefined;
    const reply = generate({
      ack: packet.confirmable,
      confirmable: false,
      code: found ? '2.05' : '4.04',
      messageId: packet.messageId,
      token: packet.token,
      options: found ? [{ name: 'Content-Format', value: uint(40) }] : [],
      payload: Buffer.from(found ? this.wellKnownCore! : ''),
    });
    this.socket.send(reply, remote.port, remote.address);
  }

  /** Separate responses received (CON responses this client acknowledged). */
  readonly separate: string[] = [];
  /** Empty ACKs received before a separate response. */
  emptyAcks = 0;

  private acknowledge(packet: ParsedPacket, remote: dgram.RemoteInfo): void {
    this.separate.push(packet.code);
    const ack = generate({ ack: true, code: '0.00', messageId: packet.messageId, token: Buffer.alloc(0) });
    this.socket.send(ack, remote.port, remote.address);
  }

  close(): void {
    this.socket.close();
  }
}
