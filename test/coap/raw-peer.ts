import dgram from 'node:dgram';
import { decodeMessage, encodeMessage, type Message } from '../../src/coap/message.js';

/** A hand-driven CoAP peer on 127.0.0.1: every datagram is recorded and handed to `onMessage`. */
export class RawPeer {
  readonly received: Message[] = [];
  private readonly socket = dgram.createSocket('udp4');
  private clientPort = 0;
  private clientAddress = '';
  private closed = false;

  constructor(private readonly onMessage: (message: Message, peer: RawPeer) => void = () => undefined) {
    this.socket.on('message', (datagram, rinfo) => {
      this.clientAddress = rinfo.address;
      this.clientPort = rinfo.port;
      const message = decodeMessage(datagram);
      this.received.push(message);
      this.onMessage(message, this);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this;
  }

  /** What was received minus retransmissions (same message id): a loaded machine may retransmit any CON. */
  get distinct(): Message[] {
    const ids = new Set<number>();
    return this.received.filter((message) => !ids.has(message.messageId) && ids.add(message.messageId));
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends to the last sender (or to `port`). */
  send(message: Message, port = this.clientPort, address = this.clientAddress || '127.0.0.1'): void {
    // A reply scheduled by a test may fire after the test closed its peers.
    if (this.closed) return;
    this.socket.send(encodeMessage(message), port, address);
  }

  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export const empty = (type: Message['type'], messageId: number): Message => ({
  type,
  code: '0.00',
  messageId,
  token: Buffer.alloc(0),
  options: [],
  payload: Buffer.alloc(0),
});

/** The raw peers of one test file: `start` makes one, `closeAll` (for afterEach) closes every one. */
export function rawPeerPool(): {
  start: (onMessage?: ConstructorParameters<typeof RawPeer>[0]) => Promise<RawPeer>;
  closeAll: () => Promise<void>;
} {
  const peers: RawPeer[] = [];
  return {
    async start(onMessage) {
      const peer = await new RawPeer(onMessage).start();
      peers.push(peer);
      return peer;
    },
    async closeAll() {
      await Promise.all(peers.splice(0).map((peer) => peer.close()));
    },
  };
}
