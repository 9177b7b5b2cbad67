import http from 'node:http';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SIGNATURE_HEADER, signatureOf } from '../../connector/hub/index.js';
import { waitFor } from '../helpers/wait.js';
import { API_KEY, FakeGateway, device, startHub, type Json, type RunningHub } from './harness.js';

interface Received {
  body: string;
  signature: string | undefined;
}

/** A real HTTP receiver that fails the first `failFirst` requests with 500. */
async function receiver(
  failFirst: number,
): Promise<{ url: string; received: Received[]; attempts: () => number; close: () => Promise<void> }> {
  const received: Received[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      attempts++;
      if (attempts <= failFirst) return res.writeHead(500).end();
      received.push({
        body: Buffer.concat(chunks).toString(),
        signature: req.headers[SIGNATURE_HEADER] as string | undefined,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    attempts: () => attempts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it('POSTs matching events signed with HMAC-SHA256, retrying with backoff, and counts failures', async () => {
  const flaky = await receiver(2);
  const dead = await receiver(Infinity);
  cleanups.push(flaky.close, dead.close);
  const hub: RunningHub = await startHub({
    hub: {
      webhooks: [
        { url: flaky.url, events: ['device.*'], secret: 'hook-secret' },
        { url: dead.url, events: ['telemetry'] },
      ],
    },
    tuning: {
      infoIntervalMs: 50,
      webhooks: { maxAttempts: 3, baseDelayMs: 10, timeoutMs: 2_000, maxPending: 100, concurrency: 2 },
    },
  });
  cleanups.push(() => hub.stop());
  const gateway = await FakeGateway.connect(hub.port);
  cleanups.push(() => gateway.close());
  gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 1 });
  gateway.send({ type: 'telemetry', seq: 2, device: 'd1', path: '/temp', ct: 50, value: 20, ts: 2 });

  const [delivery] = await waitFor(() => (flaky.received.length === 1 ? flaky.received : undefined));
  expect(delivery!.signature).toBe(signatureOf(delivery!.body, 'hook-secret'));
  expect(JSON.parse(delivery!.body)).toMatchObject({
    event: 'device.registered',
    data: { gateway: 'gw-1', device: { id: 'd1' } },
  });
  await waitFor(() => dead.attempts() === 3, { what: 'three attempts at the dead hook' });

  const info = new WebSocket(`ws://127.0.0.1:${hub.port}/socket/info?apiKey=${API_KEY}`);
  cleanups.push(() => info.terminate());
  const stats = await new Promise<Json>((resolve) => {
    info.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString());
      if (message.webhooks[1].dropped === 1) resolve(message.webhooks);
    });
  });
  expect(stats).toEqual([
    { url: flaky.url, delivered: 1, failures: 2, dropped: 0, pending: 0 },
    { url: dead.url, delivered: 0, failures: 3, dropped: 1, pending: 0 },
  ]);
  // The filter held: the flaky hook (device.*) never saw the telemetry.
  expect(flaky.attempts()).toBe(3);
});
