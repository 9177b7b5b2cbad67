import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';
import type { TestClient } from './udp-client.js';

let rd: RdFixture;
let client: TestClient;
beforeAll(async () => {
  rd = await new RdFixture({ limits: { maxPayloadBytes: 1000, maxLinksPerRegistration: 3 } }).start();
  client = await rd.client();
});
afterAll(async () => {
  await rd.close();
});

const post = (uri: string, payload = '</a>', contentFormat: number | undefined = 40) =>
  client.request({ method: 'POST', uri, payload, contentFormat });

describe('bad input', () => {
  it('missing ep is 4.00 with a short diagnostic', async () => {
    const reply = await post('/rd?lt=60');
    expect(reply.code).toBe('4.00');
    expect(reply.payload).toBe('ep is required');
  });

  it('malformed link-format is 4.00 saying where', async () => {
    for (const payload of ['</a', 'a>', '</a>;', '</a>;rt="x', '</a> </b>']) {
      const reply = await post('/rd?ep=bad', payload);
      expect(reply.code, payload).toBe('4.00');
      expect(reply.payload).toMatch(/^malformed link-format: .* at offset \d+$/);
    }
    expect(rd.store.registrations.count()).toBe(0);
  });

  it('a Content-Format other than link-format is 4.15; none is read as link-format', async () => {
    expect((await post('/rd?ep=text', '</a>', 0)).code).toBe('4.15');
    expect((await post('/rd?ep=json', '[]', 50)).code).toBe('4.15');
    expect((await post('/rd?ep=noformat', '</a>', undefined)).code).toBe('2.01');
    expect((await post('/rd?ep=empty', '', undefined)).code).toBe('2.01');
  });

  it('an oversized payload is 4.13', async () => {
    const links = Array.from({ length: 3 }, (_, i) => `</${'x'.repeat(400)}${i}>`).join(',');
    expect((await post('/rd?ep=big', links)).code).toBe('4.13');
  });

  it('more links than allowed is 4.13 and stores nothing', async () => {
    const reply = await post('/rd?ep=many', '</a>,</b>,</c>,</d>');
    expect(reply.code).toBe('4.13');
    expect(reply.payload).toBe('too many links (at most 3)');
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/ep?ep=many' })).payload).toBe('');
  });

  it('bad lt and base are 4.00', async () => {
    const queries = [
      'lt=0',
      'lt=-5',
      'lt=abc',
      'lt=4294967296',
      'lt=',
      'base=not-a-uri',
      'base=coap://h/p?q=1',
      'ep=y',
    ];
    for (const query of queries) {
      expect((await post(`/rd?ep=x&${query}`)).code, query).toBe('4.00');
    }
    expect((await post('/rd?ep=maxlt&lt=4294967295')).code).toBe('2.01');
  });

  it('a lookup asking for another format than link-format is 4.06; Accept 40 is fine', async () => {
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/res', accept: 50 })).code).toBe('4.06');
    expect((await client.request({ method: 'GET', uri: '/.well-known/core', accept: 0 })).code).toBe('4.06');
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/ep', accept: 40 })).code).toBe('2.05');
  });

  it('an unknown path is 4.04, saying which', async () => {
    for (const uri of ['/nothing', '/rd/a/b', '/rd-lookup', '/rd-lookup/xyz', '/.well-known/other']) {
      expect(await client.request({ method: 'GET', uri }), uri).toMatchObject({
        code: '4.04',
        payload: `no resource ${uri}`,
      });
    }
  });

  it('every 4.xx carries a short diagnostic payload (RFC 7252 §5.5.2)', async () => {
    const requests = [
      { method: 'GET', uri: '/nothing' },
      { method: 'PUT', uri: '/rd' },
      { method: 'POST', uri: '/rd/unknown1' },
      { method: 'DELETE', uri: '/rd/unknown1' },
      { method: 'GET', uri: '/rd/unknown1' },
      { method: 'GET', uri: '/rd-group/unknown1' },
      { method: 'POST', uri: '/rd', payload: '</a>', contentFormat: 40 },
      { method: 'POST', uri: '/rd?ep=x', payload: '<a', contentFormat: 40 },
      { method: 'POST', uri: '/rd?ep=x', payload: 'a', contentFormat: 0 },
      { method: 'POST', uri: '/rd?ep=x', payload: 'x'.repeat(1001), contentFormat: 40 },
      { method: 'POST', uri: '/rd-group?gp=g', payload: '<>;ep="nobody"', contentFormat: 40 },
      { method: 'GET', uri: '/rd-lookup/ep', accept: 50 },
    ] as const;
    for (const request of requests) {
      const reply = await client.request(request);
      expect(reply.code, `${request.method} ${request.uri}`).toMatch(/^4\./);
      expect(reply.payload.length, `${request.method} ${request.uri} -> ${reply.code}`).toBeGreaterThan(0);
    }
  });

  it('a wrong method is 4.05', async () => {
    const id = await register(client, 'ep=methods');
    for (const [method, uri] of [
      ['GET', '/rd'],
      ['PUT', '/rd'],
      ['DELETE', '/rd'],
      ['PUT', `/rd/${id}`],
      ['POST', '/rd-lookup/ep'],
      ['DELETE', '/rd-lookup/res'],
      ['PUT', '/.well-known/core'],
      ['GET', '/.well-known/rd'],
    ] as const) {
      expect((await client.request({ method, uri })).code, `${method} ${uri}`).toBe('4.05');
    }
  });
});
