import type { Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { generate, type ParsedPacket } from 'coap-packet';
import type { Server } from 'coap';
import { blockSize, decodeBlock } from '../coap/options.js';
import { answered, useBeforeHandling, type MiddlewareRequest } from './server-adapters.js';

/** Largest request body the thing reassembles; more is answered 4.13 (RFC 7959 §2.9.3). */
const MAX_BODY_BYTES = 65_536;
/** An upload that stalls this long is forgotten (RFC 7252 EXCHANGE_LIFETIME would be 247 s; a device has less memory). */
const STALE_MS = 30_000;
const REQUEST_TAG = '292';

const finalBlocks = new WeakMap<object, Buffer>();

/** The Block1 option of a reassembled request's final block: RFC 7959 §2.3 has the response echo it. */
export function finalBlock1(packet: object): Buffer | undefined {
  return finalBlocks.get(packet);
}

interface Upload {
  body: Buffer;
  touchedAt: number;
}

/**
 * Block1 reassembly (RFC 7959 §2.5) keyed by peer, path and Request-Tag (RFC 9175 §3) instead of the
 * token: the `coap` server keys by token, so clients that use a fresh token per block (libcoap, ours)
 * lose every block but the last. Runs as a middleware ahead of the library's request handling;
 * the final block reaches the handler with the whole body and its Block1 option (to echo).
 */
export function reassembleBlock1(server: Server, socket: Socket): void {
  const uploads = new Map<string, Upload>();
  const middleware = (request: MiddlewareRequest, next: (err: Error | null) => void): void => {
    const packet = request.packet;
    const option = packet?.options.find((o) => o.name === 'Block1');
    if (!packet || !option || !packet.code.startsWith('0.') || packet.ack || packet.reset) return next(null);
    const block = decodeBlock(option.value);
    const size = blockSize(block.szx);
    const key = uploadKey(packet, request.rsinfo);
    const now = Date.now();
    for (const [k, upload] of uploads) if (now - upload.touchedAt > STALE_MS) uploads.delete(k);
    const upload = block.num === 0 ? { body: Buffer.alloc(0), touchedAt: now } : uploads.get(key);
    const offset = block.num * size;
    const answer = (code: string, withBlock1: boolean): void => {
      answered(request);
      reply(socket, request.rsinfo, packet, code, withBlock1 ? option.value : undefined);
      next(null);
    };
    // RFC 7959 §2.9.2: a block that does not continue what has been received is 4.08 Request Entity Incomplete.
    if (!upload || offset > upload.body.length) return answer('4.08', false);
    if (offset + packet.payload.length > MAX_BODY_BYTES) {
      uploads.delete(key);
      return answer('4.13', false);
    }
    upload.body = Buffer.concat([upload.body.subarray(0, offset), packet.payload]);
    upload.touchedAt = now;
    if (block.more) {
      uploads.set(key, upload);
      return answer('2.31', true);
    }
    uploads.delete(key);
    packet.payload = upload.body;
    packet.options = packet.options.filter((o) => o !== option);
    finalBlocks.set(packet, option.value);
    next(null);
  };
  useBeforeHandling(server, middleware);
}

function uploadKey(packet: ParsedPacket, rsinfo: AddressInfo): string {
  const path = packet.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString('utf8'));
  const tag = packet.options.find((o) => String(o.name) === REQUEST_TAG)?.value.toString('hex') ?? '';
  return `${rsinfo.address}:${rsinfo.port}/${path.join('/')}#${tag}`;
}

/** A piggybacked answer to a CON block, or a NON answer to a NON block (RFC 7252 §5.2). */
function reply(socket: Socket, rsinfo: AddressInfo, packet: ParsedPacket, code: string, block1?: Buffer): void {
  const message = generate({
    code,
    messageId: packet.confirmable ? packet.messageId : Math.floor(Math.random() * 0x10000),
    token: packet.token,
    ack: packet.confirmable,
    confirmable: false,
    options: block1 ? [{ name: 'Block1', value: block1 }] : [],
  });
  socket.send(message, rsinfo.port, rsinfo.address);
}
