import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, request as coapRequest, type IncomingMessage } from 'coap';
import { afterEach, describe, expect, it } from 'vitest';
import { Block2Cache } from '../../src/coap/block.js';
import { decodeBlock, encodeBlock, type BlockOption } from '../../src/coap/options.js';
import type { CoapRequest } from '../../src/coap/types.js';
import { option } from './server-peer.js';
import { startServer, type Fixture } from './server-fixture.js';
import { libcoapClientMissing } from '../helpers/tools.js';

const run = promisify(execFile);

let fixture: Fixture | undefined;
let tempDir: string | undefined;
afterEach(async () => {
  bigRuns = 0;
  await fixture?.close();
  fixture = undefined;
  if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
});

/** A body no block boundary divides evenly, with bytes that reveal a misplaced slice. */
const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => 33 + ((i * 7) % 90)));

let bigRuns = 0;
const bigResource = (request: CoapRequest) => {
  if (request.path.join('/') !== 'big') return { code: '4.04' as const };
  bigRuns++;
  return { code: '2.05' as const, payload: big, contentFormat: 42 };
};

const block1 = (block: BlockOption) => ({ name: 'Block1', value: encodeBlock(block) });

describe('CoapServer block-wise transfers (RFC 7959)', () => {
  it('serves a large body in Block2 blocks of 1024 with Size2 and ETag, and 64 when the client asks', async () => {
    fixture = await startServer(bigResource);
    const peer = await fixture.peer();
    const bigPath = { name: 'Uri-Path', value: Buffer.from('big') };
    await peer.send({ confirmable: true, code: 'GET', messageId: 1, options: [bigPath] });
    const first = await peer.reply({ messageId: 1 });
    expect(first.payload).toEqual(big.subarray(0, 1024));
    expect(decodeBlock(option(first, 'Block2')!)).toEqual({ num: 0, more: true, szx: 6 });
    expect(option(first, 'Size2')).toEqual(Buffer.from([0x13, 0x88]));
    const small = { name: 'Block2', value: encodeBlock({ num: 3, more: false, szx: 2 }) };
    await peer.send({ confirmable: true, code: 'GET', messageId: 2, options: [bigPath, small] });
    const fourth = await peer.reply({ messageId: 2 });
    expect(fourth.payload).toEqual(big.subarray(192, 256));
    expect(option(fourth, 'ETag')).toEqual(option(first, 'ETag'));
    const past = { name: 'Block2', value: encodeBlock({ num: 5, more: false, szx: 6 }) };
    await peer.send({ confirmable: true, code: 'GET', messageId: 3, options: [bigPath, past] });
    expect((await peer.reply({ messageId: 3 })).code).toBe('4.02');
  });

  it.skipIf(libcoapClientMissing() !== undefined).each([[[]], [['-b', '64']]])(
    'lets libcoap coap-client fetch the whole body (%j)',
    async (flags) => {
      fixture = await startServer(bigResource);
      const { stdout } = await run(
        'coap-client-notls',
        [...flags, '-B', '10', '-o', '-', '-m', 'get', `coap://127.0.0.1:${fixture.port}/big`],
        { encoding: 'buffer', timeout: 20_000 },
      );
      expect(stdout).toEqual(big);
      // Later blocks are sliced from the body kept at the first, not made again.
      expect(bigRuns).toBe(1);
    },
  );

  it('lets the coap npm client fetch the whole body', async () => {
    fixture = await startServer(bigResource);
    const agent = new Agent({ type: 'udp4' });
    try {
      const reply = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = coapRequest({ hostname: '127.0.0.1', port: fixture!.port, pathname: '/big', agent });
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      expect(reply.code).toBe('2.05');
      expect(reply.payload).toEqual(big);
    } finally {
      agent.close();
    }
  });

  it.skipIf(libcoapClientMissing() !== undefined)(
    'reassembles a Block1 upload from libcoap coap-client -b 64 before the handler sees it',
    async () => {
      const received: Buffer[] = [];
      fixture = await startServer((request) => {
        received.push(request.payload);
        return { code: '2.04', payload: String(request.payload.length) };
      });
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coap-block1-'));
      const file = path.join(tempDir, 'upload.bin');
      fs.writeFileSync(file, big.subarray(0, 1000));
      const { stdout } = await run(
        'coap-client-notls',
        ['-b', '64', '-B', '10', '-m', 'post', '-f', file, `coap://127.0.0.1:${fixture.port}/upload`],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(stdout.trim()).toBe('1000');
      expect(received).toEqual([big.subarray(0, 1000)]);
    },
  );

  it('answers 2.31 to intermediate blocks, 4.08 to a gap and 4.13 with Size1 beyond maxPayloadBytes', async () => {
    fixture = await startServer(() => ({ code: '2.04' }), { maxPayloadBytes: 100 });
    const peer = await fixture.peer();
    const chunk = Buffer.alloc(64, 1);
    await peer.send({
      confirmable: true,
      code: 'PUT',
      messageId: 1,
      options: [block1({ num: 0, more: true, szx: 2 })],
      payload: chunk,
    });
    const cont = await peer.reply({ messageId: 1 });
    expect(cont.code).toBe('2.31');
    expect(decodeBlock(option(cont, 'Block1')!)).toEqual({ num: 0, more: true, szx: 2 });
    await peer.send({
      confirmable: true,
      code: 'PUT',
      messageId: 2,
      options: [block1({ num: 1, more: true, szx: 2 })],
      payload: chunk,
    });
    const tooLarge = await peer.reply({ messageId: 2 });
    expect(tooLarge.code).toBe('4.13');
    expect(option(tooLarge, 'Size1')).toEqual(Buffer.from([100]));
    await peer.send({
      confirmable: true,
      code: 'PUT',
      messageId: 3,
      options: [block1({ num: 2, more: false, szx: 2 })],
      payload: chunk,
    });
    expect((await peer.reply({ messageId: 3 })).code).toBe('4.08');
    await peer.send({ confirmable: true, code: 'PUT', messageId: 4, payload: Buffer.alloc(101) });
    expect((await peer.reply({ messageId: 4 })).code).toBe('4.13');
  });

  it('keeps block-wise bodies within their byte bound and lifetime', () => {
    let now = 0;
    const cache = new Block2Cache(10_000, 1000, () => now);
    const body = (i: number) => ({ code: '2.05' as const, payload: Buffer.alloc(2000, i) });
    for (let i = 0; i < 6; i++) cache.keep(() => `k${i}`, body(i), 1024);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k5')?.payload).toEqual(Buffer.alloc(2000, 5));
    expect(cache.keep(() => 'small', { code: '2.05', payload: Buffer.alloc(1000) }, 1024).etag).toBeUndefined();
    expect(cache.get('small')).toBeUndefined();
    now = 1000;
    expect(cache.get('k5')).toBeUndefined();
  });
});
