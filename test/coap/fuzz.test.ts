import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'coap-packet';
import type { CoapRequest } from '../../src/coap/types.js';
import { startServer, type Fixture } from './server-fixture.js';
import { seededRandom } from './seeded-random.js';

const valid = generate(
  {
    confirmable: true,
    code: 'POST',
    messageId: 1,
    token: Buffer.from('0102030405060708', 'hex'),
    options: [
      { name: 'Uri-Path', value: Buffer.from('rd') },
      { name: 'Content-Format', value: Buffer.from([40]) },
      { name: 'Uri-Query', value: Buffer.from('ep=node1') },
      { name: 'Block1', value: Buffer.from([0x0a]) },
    ],
    payload: Buffer.from('</sensors/temp>;rt="temperature";if="sensor"'),
  },
  1280,
);

/** Random bytes, CoAP-looking headers with garbage behind them, and a valid request truncated or with bytes flipped. */
function fuzzDatagrams(count: number, next: () => number): Buffer[] {
  const byte = () => Math.floor(next() * 256);
  const datagrams: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) {
      datagrams.push(Buffer.from(Array.from({ length: Math.floor(next() * 300) }, byte)));
    } else if (kind === 1) {
      const garbage = Buffer.from(Array.from({ length: Math.floor(next() * 40) }, byte));
      datagrams.push(Buffer.concat([Buffer.from([0x40 | (byte() & 0x3f), byte(), byte(), byte()]), garbage]));
    } else if (kind === 2) {
      datagrams.push(valid.subarray(0, Math.floor(next() * valid.length)));
    } else {
      const mutated = Buffer.from(valid);
      for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) {
        mutated[Math.floor(next() * mutated.length)] = byte();
      }
      datagrams.push(mutated);
    }
  }
  return datagrams;
}

describe('CoapServer under random and mutated datagrams', () => {
  let fixture: Fixture;
  const handled: CoapRequest[] = [];
  beforeAll(async () => {
    fixture = await startServer((request) => {
      handled.push(request);
      return { code: '2.05', payload: request.path.join('/') };
    });
  });
  afterAll(() => fixture.close());

  it('survives 5,000 bad datagrams and then answers a normal request correctly', async () => {
    const peer = await fixture.peer();
    const heapBefore = process.memoryUsage().heapUsed;
    for (const datagram of fuzzDatagrams(5000, seededRandom(0x5eed))) await peer.sendRaw(datagram);
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 0xbeef,
      token: Buffer.from('ff', 'hex'),
      options: [
        { name: 'Uri-Path', value: Buffer.from('still') },
        { name: 'Uri-Path', value: Buffer.from('alive') },
      ],
    });
    const reply = await peer.reply({ messageId: 0xbeef }, 20_000);
    expect(reply.code).toBe('2.05');
    expect(reply.payload.toString()).toBe('still/alive');
    // Nothing escaped as a handler failure or a crash: no 5.00 and no error log line.
    expect(peer.replies.filter((r) => r.code === '5.00')).toHaveLength(0);
    expect(fixture.logLines.filter((line) => line.includes('"level":50'))).toEqual([]);
    // Every reply is a well-formed answer: RST, ACK or NON.
    expect(peer.replies.every((r) => r.reset || r.ack || !r.confirmable)).toBe(true);
    // State stays bounded: a few MB at most for 5,000 datagrams (the dedup cache stores encoded replies only).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(handled.length).toBeGreaterThan(1);
  });
});
