import type { Message, MessageType } from './message.js';

const TYPE_BITS: Record<MessageType, number> = { CON: 0, NON: 1, ACK: 2, RST: 3 };

/** RFC 7252 §3.1: option delta and length are a nibble, or 13/14 announcing 1/2 extension bytes. */
const nibble = (n: number): number => (n < 13 ? n : n < 269 ? 13 : 14);
const extensionBytes = (n: number): number => (n < 13 ? 0 : n < 269 ? 1 : 2);

function writeExtension(buffer: Buffer, at: number, n: number): number {
  if (n < 13) return at;
  if (n < 269) {
    buffer[at] = n - 13;
    return at + 1;
  }
  buffer.writeUInt16BE(n - 269, at);
  return at + 2;
}

/** `2.05` → 0x45 (RFC 7252 §3: 3-bit class, 5-bit detail). */
const codeByte = (code: string): number => ((code.charCodeAt(0) - 48) << 5) | Number(code.slice(2));

/**
 * Encodes a message into one exactly sized buffer (from Node's pool: keep a copy, not the buffer,
 * for long, as the dedup cache does). Byte for byte what coap-packet's `generate` produces
 * (test/coap/encoder.test.ts), at a fraction of its cost: `generate` measured 9 µs per 300-byte
 * reply, a fifth of the server's CPU per request, by decoding the payload to a string twice and
 * allocating per option.
 */
export function encodeDatagram(message: Message): Buffer {
  const options =
    message.options.length > 1 ? [...message.options].sort((a, b) => a.number - b.number) : message.options;
  const { token, payload } = message;
  if (token.length > 8) throw new RangeError('RFC 7252 §3: a token is at most 8 bytes');
  let length = 4 + token.length + (payload.length > 0 ? 1 + payload.length : 0);
  let previous = 0;
  for (const { number, value } of options) {
    length += 1 + extensionBytes(number - previous) + extensionBytes(value.length) + value.length;
    previous = number;
  }
  const buffer = Buffer.allocUnsafe(length);
  buffer[0] = 0x40 | (TYPE_BITS[message.type] << 4) | token.length;
  buffer[1] = codeByte(message.code);
  buffer.writeUInt16BE(message.messageId, 2);
  let at = 4 + token.copy(buffer, 4);
  previous = 0;
  for (const { number, value } of options) {
    const delta = number - previous;
    buffer[at] = (nibble(delta) << 4) | nibble(value.length);
    at = writeExtension(buffer, at + 1, delta);
    at = writeExtension(buffer, at, value.length);
    at += value.copy(buffer, at);
    previous = number;
  }
  if (payload.length > 0) {
    buffer[at] = 0xff;
    payload.copy(buffer, at + 1);
  }
  return buffer;
}
