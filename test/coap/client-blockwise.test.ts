import coap from 'coap';
import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoapClient } from '../../src/coap/client.js';
import type { Message } from '../../src/coap/message.js';
import { blockSize, decodeBlock, encodeBlock, findOption, OptionNumber, uintOption } from '../../src/coap/options.js';
import { clientFixture, expectTimeoutAtDeadline } from './fixture.js';

const fixture = clientFixture();
const { rawPeer } = fixture;
let client: CoapClient;

const body = (length: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => 65 + (i % 50)));

const ack = (
  request: Message,
  code: string,
  options: Message['options'],
  payload: Buffer = Buffer.alloc(0),
): Message => ({
  type: 'ACK',
  code,
  messageId: request.messageId,
  token: request.token,
  options,
  payload,
});

describe('block-wise transfer against the coap package server (RFC 7959)', () => {
  let server: ReturnType<typeof coap.createServer>;
  let port: number;
  let stored = Buffer.alloc(0);

  beforeAll(async () => {
    server = coap.createServer((req, res) => {
      if (req.method === 'PUT' || req.method === 'POST') {
        stored = Buffer.from(req.payload);
        res.code = req.method === 'PUT' ? '2.04' : '2.01';
        return res.end(req.method === 'POST' ? stored : undefined);
      }
      if (req.method === 'DELETE') {
        stored = Buffer.alloc(0);
        res.code = '2.02';
        return res.end();
      }
      res.end(stored);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server._sock as Socket).address().port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('PUTs 5 KB in Block1 blocks and GETs it back in Block2 blocks', async () => {
    client = fixture.newClient();
    const target = { host: '127.0.0.1', port, path: '/data', timeoutMs: 10_000 };
    const payload = body(5000);
    expect((await client.request({ ...target, method: 'PUT', payload })).code).toBe('2.04');
    expect(stored.equals(payload)).toBe(true);
    const reply = await client.request({ ...target, method: 'GET' });
    expect(reply.code).toBe('2.05');
    expect(reply.payload.equals(payload)).toBe(true);
  });

  it('POSTs with a configured smaller block size and receives the echoed body', async () => {
    client = fixture.newClient({ blockSize: 256 });
    const payload = body(3000);
    const reply = await client.request({
      host: '127.0.0.1',
      port,
      path: '/data',
      method: 'POST',
      payload,
      timeoutMs: 10_000,
    });
    expect(reply.code).toBe('2.01');
    expect(reply.payload.equals(payload)).toBe(true);
  });

  it('DELETEs', async () => {
    client = fixture.newClient();
    expect((await client.request({ host: '127.0.0.1', port, path: '/data', method: 'DELETE' })).code).toBe('2.02');
  });
});

describe('block-wise corner cases (raw peer)', () => {
  it("continues with the server's smaller SZX after 2.31 (RFC 7959 §2.5)", async () => {
    const device = await rawPeer((message, peer) => {
      const block = decodeBlock(findOption(message.options, OptionNumber.block1)!);
      // The server takes the first 1024-byte block but asks for 256-byte blocks from then on.
      const granted = { num: block.num === 0 ? 0 : block.num, more: block.more, szx: 4 };
      if (block.more) peer.send(ack(message, '2.31', [{ number: OptionNumber.block1, value: encodeBlock(granted) }]));
      else peer.send(ack(message, '2.04', [{ number: OptionNumber.block1, value: encodeBlock(granted) }]));
    });
    client = fixture.newClient();
    const payload = body(2000);
    const reply = await client.request({
      host: '127.0.0.1',
      port: device.port,
      path: '/up',
      method: 'PUT',
      payload,
      timeoutMs: 5000,
    });
    expect(reply.code).toBe('2.04');
    const blocks = device.distinct.map((message) => decodeBlock(findOption(message.options, OptionNumber.block1)!));
    expect(blocks.map((block) => [block.num, blockSize(block.szx)])).toEqual([
      [0, 1024],
      [4, 256],
      [5, 256],
      [6, 256],
      [7, 256],
    ]);
    expect(Buffer.concat(device.distinct.map((message) => message.payload)).equals(payload)).toBe(true);
    expect(uintOption(device.distinct[0]!.options, OptionNumber.size1)).toBe(2000);
    // RFC 9175 §3: one Request-Tag for all blocks of the transfer.
    const tags = device.distinct.map((message) =>
      findOption(message.options, OptionNumber.requestTag)?.toString('hex'),
    );
    expect(new Set(tags).size).toBe(1);
    expect(tags[0]).toMatch(/^[0-9a-f]{8}$/);
  });

  it('retries block-wise after 4.13 Request Entity Too Large with a size hint (RFC 7959 §2.9.3)', async () => {
    const device = await rawPeer((message, peer) => {
      const value = findOption(message.options, OptionNumber.block1);
      if (value === undefined) {
        return peer.send(
          ack(message, '4.13', [{ number: OptionNumber.block1, value: encodeBlock({ num: 0, more: false, szx: 2 }) }]),
        );
      }
      const block = decodeBlock(value);
      peer.send(ack(message, block.more ? '2.31' : '2.04', [{ number: OptionNumber.block1, value }]));
    });
    client = fixture.newClient();
    const reply = await client.request({
      host: '127.0.0.1',
      port: device.port,
      path: '/up',
      method: 'PUT',
      payload: body(200),
      timeoutMs: 5000,
    });
    expect(reply.code).toBe('2.04');
    expect(device.distinct.length).toBe(1 + 4);
  });

  it('honours the deadline in the middle of a block-wise download', async () => {
    const device = await rawPeer((message, peer) => {
      const requested = findOption(message.options, OptionNumber.block2);
      // Answers the first block only; the second request is left unanswered.
      if (requested === undefined) {
        peer.send(
          ack(
            message,
            '2.05',
            [{ number: OptionNumber.block2, value: encodeBlock({ num: 0, more: true, szx: 6 }) }],
            body(1024),
          ),
        );
      }
    });
    client = fixture.newClient();
    await expectTimeoutAtDeadline(
      () => client.request({ host: '127.0.0.1', port: device.port, path: '/big', method: 'GET', timeoutMs: 600 }),
      600,
    );
    expect(device.received.some((message) => findOption(message.options, OptionNumber.block2) !== undefined)).toBe(
      true,
    );
  });
});
