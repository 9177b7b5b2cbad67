import dgram, { type Socket } from 'node:dgram';
import { generate, parse, type ParsedPacket, type Packet } from 'coap-packet';

/** A bare UDP peer speaking CoAP through coap-packet: sends exactly the bytes a test wants and collects every reply. */
export class ServerPeer {
  readonly replies: ParsedPacket[] = [];
  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly port: number,
  ) {
    socket.on('message', (data) => {
      try {
        this.replies.push(parse(data));
      } catch {
        // a test asserting on replies will notice a missing one
      }
    });
  }

  /** With `multicastInterface`, `host` is a group and the peer sends from that interface (loopback in tests). */
  static async open(
    host: string,
    port: number,
    { multicastInterface }: { multicastInterface?: string } = {},
  ): Promise<ServerPeer> {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(0, multicastInterface ?? host, resolve));
    if (multicastInterface !== undefined) socket.setMulticastInterface(multicastInterface);
    return new ServerPeer(socket, host, port);
  }

  sendRaw(datagram: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(datagram, this.port, this.host, (err) => (err ? reject(err) : resolve())),
    );
  }

  send(packet: Packet): Promise<void> {
    return this.sendRaw(generate(packet, 65507));
  }

  /** The first reply carrying `messageId` (ACK) or `token` (NON), waiting up to `timeoutMs`. */
  async reply(match: { messageId?: number; token?: Buffer }, timeoutMs = 5000): Promise<ParsedPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.replies.find(
        (r) =>
          (match.messageId === undefined || r.messageId === match.messageId) &&
          (match.token === undefined || r.token.equals(match.token)),
      );
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no reply matching ${JSON.stringify(match)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export const option = (packet: ParsedPacket, name: string): Buffer | undefined =>
  packet.options.find((o) => o.name === name)?.value;
