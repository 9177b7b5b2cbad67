import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';

let rd: RdFixture;
beforeAll(async () => {
  rd = await new RdFixture({ limits: { maxLinksPerRegistration: 50 } }).start();
});
afterAll(async () => {
  await rd.close();
});

/** A deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

const PATHS = [
  '/rd',
  '/rd/x',
  '/rd-lookup/ep',
  '/rd-lookup/res',
  '/rd-lookup/gp',
  '/rd-group',
  '/.well-known/core',
  '/.well-known/rd',
];
const QUERY_PARTS = [
  'ep=',
  'd=',
  'lt=',
  'base=',
  'gp=',
  'page=',
  'count=',
  'rt=',
  'href=',
  'anchor=',
  'con=',
  '',
  '=',
  '*',
];
const PAYLOAD_PARTS = [
  '<',
  '>',
  ';',
  ',',
  '"',
  '=',
  '</a>',
  'rt',
  '\\',
  ' ',
  'anchor="',
  '\u00ff',
  '</b>;rt="x"',
  '\u0000',
];

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

describe('the RD under random input', () => {
  it('answers every well-formed but random request with a CoAP code and stays consistent', async () => {
    const next = random(9176);
    const client = await rd.client();
    const methods = ['GET', 'POST', 'PUT', 'DELETE'] as const;
    for (let i = 0; i < 400; i++) {
      const query = Array.from(
        { length: Math.floor(next() * 4) },
        () => pick(next, QUERY_PARTS) + pick(next, ['1', 'node*', '0', 'coap://[::1]', 'x y', '-1', '99999999999']),
      ).join('&');
      const payload = Array.from({ length: Math.floor(next() * 8) }, () => pick(next, PAYLOAD_PARTS)).join('');
      const reply = await client.request({
        method: pick(next, methods),
        uri: `${pick(next, PATHS)}${query ? `?${query}` : ''}`,
        payload,
        contentFormat: pick(next, [undefined, 40, 0, 50]),
      });
      expect(reply.code).toMatch(/^[245]\.\d\d$/);
      expect(reply.code).not.toBe('5.00');
    }
    // The store, its device rows and the lookup index still agree.
    for (const reg of rd.store.registrations.all()) {
      expect(rd.store.devices.get(reg.deviceId)).toBeDefined();
      expect(rd.rd.directory.endpoints.withEndpoint(reg.ep).has(reg.deviceId)).toBe(true);
    }
  });

  it('survives random and truncated datagrams, then still registers and looks up', async () => {
    const socket = dgram.createSocket('udp4');
    const valid = Buffer.from([0x44, 0x02, 0x12, 0x34, 1, 2, 3, 4, 0xb2, 0x72, 0x64]);
    for (let i = 0; i < 2000; i++) {
      const datagram = i % 2 === 0 ? randomBytes(1 + (i % 64)) : valid.subarray(0, i % valid.length);
      socket.send(datagram, rd.port, '127.0.0.1');
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.close();
    const client = await rd.client();
    const id = await register(client, 'ep=after-fuzz');
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/ep?ep=after-fuzz' });
    expect(lookup.payload).toContain(`</rd/${id}>`);
    await rd.reopen();
    const again = await rd.client();
    expect((await again.request({ method: 'GET', uri: `/rd/${id}` })).code).toBe('2.05');
  });
});
