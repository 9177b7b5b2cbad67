import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { generate, type ParsedPacket } from 'coap-packet';
import type { IncomingMessage, ObserveWriteStream, OutgoingMessage, Server } from 'coap';

export type Packet = IncomingMessage['_packet'];

/** What the `coap` server passes through its middleware chain (lib/middlewares.js). */
export interface MiddlewareRequest {
  packet?: ParsedPacket;
  rsinfo: AddressInfo;
  /** The library skips its own handling of a request whose `proxy` is set. */
  proxy?: string;
}

export type Middleware = (request: MiddlewareRequest, next: (err: Error | null) => void) => void;

/** Runs `middleware` after parsing and before the library handles the request. */
export function useBeforeHandling(server: Server, middleware: Middleware): void {
  server._middlewares.splice(server._middlewares.length - 1, 0, middleware);
}

/** Marks a datagram as answered here, so the library does not handle it a second time. */
export function answered(request: MiddlewareRequest): void {
  request.proxy = 'answered by the simulated thing';
}

/**
 * RFC 7252 §4.3: an empty CON is a ping, answered by a Reset with its message id. Answered before the
 * library builds request and response streams for it: a fleet of a thousand things is pinged a lot.
 */
export function answerPings(server: Server, socket: Socket, onPing: () => void): void {
  useBeforeHandling(server, (request, next) => {
    const packet = request.packet;
    if (packet && packet.code === '0.00' && packet.confirmable && !packet.ack && !packet.reset) {
      answered(request);
      onPing();
      const reset = generate({
        code: '0.00',
        reset: true,
        confirmable: false,
        ack: false,
        messageId: packet.messageId,
        token: Buffer.alloc(0),
      });
      socket.send(reset, request.rsinfo.port, request.rsinfo.address);
    }
    next(null);
  });
}

export function isObserveWriteStream(res: OutgoingMessage): res is OutgoingMessage & ObserveWriteStream {
  return '_counter' in res;
}

/**
 * The library keeps timers (piggyback ACKs, retransmissions) that send after its server closed and
 * then throw ERR_SOCKET_DGRAM_NOT_RUNNING; a device without power sends nothing, so drop them.
 */
export function dropSendsAfterClose(socket: Socket): () => void {
  let closed = false;
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  socket.send = ((...args: unknown[]) => {
    if (!closed) send(...args);
  }) as Socket['send'];
  return () => {
    closed = true;
  };
}

export function optionStrings(packet: Packet, name: string): string[] {
  return (packet.options ?? [])
    .filter((o) => o.name === name)
    .map((o) => (Buffer.isBuffer(o.value) ? o.value.toString('utf8') : String(o.value)));
}

export function contentFormatOf(packet: Packet): number | undefined {
  const option = packet.options?.find((o) => o.name === 'Content-Format');
  if (!option || !Buffer.isBuffer(option.value)) return undefined;
  return option.value.reduce((n, byte) => n * 256 + byte, 0);
}
