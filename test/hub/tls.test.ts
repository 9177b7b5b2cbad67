import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { selfSignedCert } from '../helpers/tls.js';
import { API_KEY, FakeGateway, startHub, type RunningHub } from './harness.js';

let hub: RunningHub;
let ca: Buffer;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-tls-'));
  const { cert, key } = selfSignedCert(dir);
  ca = fs.readFileSync(cert);
  hub = await startHub({ dir, hub: { tls: { cert, key } } });
});
afterAll(() => hub.stop());

function get(route: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${hub.base}${route}`, { ca, headers: { 'x-api-key': API_KEY } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

it('serves the HTTP API over https', async () => {
  expect(hub.base.startsWith('https://')).toBe(true);
  expect(await get('/v1/devices')).toEqual({ status: 200, body: '{"devices":[]}' });
});

it('takes gateways over wss', async () => {
  const gateway = await FakeGateway.open(hub.port, '/v1/gateway', { ca }, 'wss');
  try {
    expect(await gateway.handshake('gw-1', 'gw-1-secret')).toBe(0);
  } finally {
    gateway.close();
  }
});
