import { describe, expect, it } from 'vitest';
import { encodeDatagram } from '../../src/coap/encoder.js';
import { decodeMessage, encodeMessage, type Message, type MessageType } from '../../src/coap/message.js';
import { seededRandom } from './seeded-random.js';

const TYPES: MessageType[] = ['CON', 'NON', 'ACK', 'RST'];
const OPTION_NUMBERS = [1, 4, 6, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 60, 258, 2049, 65000];

function randomMessage(next: () => number): Message {
  const int = (n: number) => Math.floor(next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  // Value lengths cross the 13 and 269 boundaries of the extended length encoding.
  const lengths = [0, 1, 12, 13, 14, 268, 269, 300];
  return {
    type: TYPES[int(4)]!,
    code: `${int(6)}.${String(int(32)).padStart(2, '0')}`,
    messageId: int(0x10000),
    token: bytes(int(9)),
    options: Array.from({ length: int(6) }, () => ({
      number: OPTION_NUMBERS[int(OPTION_NUMBERS.length)]!,
      value: bytes(lengths[int(lengths.length)]!),
    })),
    payload: next() < 0.3 ? Buffer.alloc(0) : bytes(int(1500)),
  };
}

describe('encodeDatagram', () => {
  it("produces exactly coap-packet's bytes for 2,000 random messages", () => {
    const next = seededRandom(0xc0a9);
    const differing: Message[] = [];
    for (let i = 0; i < 2000; i++) {
      const message = randomMessage(next);
      if (message.code === '0.00') message.payload = Buffer.alloc(0);
      if (!encodeDatagram(message).equals(encodeMessage(message))) differing.push(message);
    }
    expect(differing).toEqual([]);
  });

  it('round-trips an RFC 7252 §A-style response through the decoder, repeated options in order', () => {
    const message: Message = {
      type: 'ACK',
      code: '2.01',
      messageId: 0x7d34,
      token: Buffer.from('abcd', 'hex'),
      options: [
        { number: 8, value: Buffer.from('rd') },
        { number: 12, value: Buffer.from([40]) },
        { number: 8, value: Buffer.from('a1') },
      ],
      payload: Buffer.from('ok'),
    };
    const decoded = decodeMessage(encodeDatagram(message));
    expect(decoded.options.map((o) => [o.number, o.value.toString()])).toEqual([
      [8, 'rd'],
      [8, 'a1'],
      [12, '('],
    ]);
    expect(decoded).toMatchObject({ type: 'ACK', code: '2.01', messageId: 0x7d34, payload: Buffer.from('ok') });
  });
});
