import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lookup } from '../../rd/index.js';
import { RdFixture, register } from './fixture.js';
import type { TestClient } from './udp-client.js';

let rd: RdFixture;
let client: TestClient;
let ids: Record<string, string>;
let base: string;

beforeAll(async () => {
  rd = await new RdFixture().start();
  client = await rd.client();
  base = `coap://127.0.0.1:${client.localPort}`;
  ids = {
    node1: await register(
      client,
      'ep=node1&d=floor1&et=sensor',
      '</temp>;rt="temperature sensor";if="core.s";obs,</hum>;rt="humidity";ct=0',
    ),
    node2: await register(client, 'ep=node2&et=actuator', '</light>;rt="light";if="core.a",</temp2>;rt="temperature"'),
    gateway: await register(
      client,
      'ep=gateway&base=coap://sensor1.example.com',
      '</sensors/temp>;rt="temperature-c";if="sensor",' +
        '<http://www.example.com/sensors/t123>;anchor="/sensors/temp";rel="describedby",' +
        '</t>;anchor="/sensors/temp";rel="alternate"',
    ),
  };
});
afterAll(async () => {
  await rd.close();
});

async function lookup(uri: string): Promise<string[]> {
  const reply = await client.request({ method: 'GET', uri });
  expect(reply.code).toBe('2.05');
  expect(reply.contentFormat).toBe(40);
  return reply.payload === '' ? [] : reply.payload.split(/,(?=<)/);
}

describe('endpoint lookup (RFC 9176 §6.3)', () => {
  it('lists every endpoint with ep, d, base, et and rt="core.rd-ep", without lt', async () => {
    const all = await lookup('/rd-lookup/ep');
    expect(all).toHaveLength(3);
    expect(all[0]).toBe(`</rd/${ids.node1}>;base="${base}";ep="node1";d="floor1";et="sensor";ct=40;rt="core.rd-ep"`);
    expect(all.join()).not.toContain('lt=');
  });

  it('filters by ep, exact and with a trailing wildcard', async () => {
    expect(await lookup('/rd-lookup/ep?ep=node2')).toEqual([expect.stringContaining(`</rd/${ids.node2}>`)]);
    expect(await lookup('/rd-lookup/ep?ep=node*')).toHaveLength(2);
    expect(await lookup('/rd-lookup/ep?ep=nothing')).toEqual([]);
  });

  it('filters by d, et and base', async () => {
    expect(await lookup('/rd-lookup/ep?d=floor1')).toEqual([expect.stringContaining('ep="node1"')]);
    expect(await lookup('/rd-lookup/ep?et=actuator')).toEqual([expect.stringContaining('ep="node2"')]);
    expect(await lookup('/rd-lookup/ep?base=coap://sensor1*')).toEqual([expect.stringContaining('ep="gateway"')]);
  });

  it('an endpoint matches when one of its resource links does', async () => {
    expect(await lookup('/rd-lookup/ep?rt=light')).toEqual([expect.stringContaining('ep="node2"')]);
    expect(await lookup('/rd-lookup/ep?rt=temperature')).toHaveLength(2);
  });

  it('rt=core.rd-ep matches every endpoint link', async () => {
    expect(await lookup('/rd-lookup/ep?rt=core.rd-ep')).toHaveLength(3);
  });

  it('href matches the registration resource', async () => {
    expect(await lookup(`/rd-lookup/ep?href=/rd/${ids.gateway}`)).toEqual([expect.stringContaining('ep="gateway"')]);
  });

  it('pages with page and count, page 0 first', async () => {
    const pages = [
      await lookup('/rd-lookup/ep?count=2&page=0'),
      await lookup('/rd-lookup/ep?count=2&page=1'),
      await lookup('/rd-lookup/ep?count=2&page=2'),
    ];
    expect(pages.map((p) => p.length)).toEqual([2, 1, 0]);
    expect(new Set(pages.flat()).size).toBe(3);
    expect(await lookup('/rd-lookup/ep?count=1')).toHaveLength(1);
  });
});

describe('resource lookup (RFC 9176 §6.1, §6.2)', () => {
  it('resolves hrefs against the base and gives the base as anchor', async () => {
    expect(await lookup('/rd-lookup/res?ep=node2')).toEqual([
      `<${base}/light>;rt="light";if="core.a";anchor="${base}"`,
      `<${base}/temp2>;rt="temperature";anchor="${base}"`,
    ]);
  });

  it('resolves anchors too and keeps absolute targets (the RFC 9176 §6.2 example)', async () => {
    expect(await lookup('/rd-lookup/res?ep=gateway')).toEqual([
      '<coap://sensor1.example.com/sensors/temp>;rt="temperature-c";if="sensor";anchor="coap://sensor1.example.com"',
      '<http://www.example.com/sensors/t123>;rel="describedby";anchor="coap://sensor1.example.com/sensors/temp"',
      '<coap://sensor1.example.com/t>;rel="alternate";anchor="coap://sensor1.example.com/sensors/temp"',
    ]);
  });

  it('rt matches any of the space-separated values (RFC 6690 §4.1)', async () => {
    expect(await lookup('/rd-lookup/res?rt=sensor')).toEqual([expect.stringContaining(`<${base}/temp>`)]);
    expect(await lookup('/rd-lookup/res?rt=temperature')).toHaveLength(2);
    expect(await lookup('/rd-lookup/res?rt=temp*')).toHaveLength(3);
  });

  it('filters by if, ct, a value-less attribute, href and anchor', async () => {
    expect(await lookup('/rd-lookup/res?if=core.a')).toEqual([expect.stringContaining('/light>')]);
    expect(await lookup('/rd-lookup/res?ct=0')).toEqual([expect.stringContaining('/hum>')]);
    expect(await lookup('/rd-lookup/res?obs')).toEqual([expect.stringContaining('/temp>')]);
    expect(await lookup(`/rd-lookup/res?href=${base}/temp2`)).toEqual([expect.stringContaining('/temp2>')]);
    expect(await lookup('/rd-lookup/res?anchor=coap://sensor1.example.com/sensors/temp')).toHaveLength(2);
    expect(await lookup('/rd-lookup/res?rel=alternate')).toEqual([expect.stringContaining('/t>')]);
  });

  it('a link matches an endpoint attribute of its registration', async () => {
    expect(await lookup('/rd-lookup/res?d=floor1')).toHaveLength(2);
    expect(await lookup('/rd-lookup/res?et=actuator')).toHaveLength(2);
    expect(await lookup('/rd-lookup/res?ep=node*')).toHaveLength(4);
  });

  it('ANDs every filter, each one counting (aiocoap applied only the last)', async () => {
    expect(await lookup('/rd-lookup/res?rt=temperature&ep=node2')).toEqual([expect.stringContaining('/temp2>')]);
    expect(await lookup('/rd-lookup/res?ep=node1&rt=light')).toEqual([]);
    expect(await lookup('/rd-lookup/res?rt=light&ep=node1')).toEqual([]);
    expect(await lookup('/rd-lookup/res?et=sensor&rt=temperature&obs')).toEqual([expect.stringContaining('/temp>')]);
    expect(await lookup('/rd-lookup/ep?rt=temperature&et=actuator')).toEqual([expect.stringContaining('ep="node2"')]);
  });

  it('pages through links', async () => {
    const all = await lookup('/rd-lookup/res');
    expect(all).toHaveLength(7);
    const pages = [0, 1, 2].map((page) => lookup(`/rd-lookup/res?count=3&page=${page}`));
    expect((await Promise.all(pages)).flat()).toEqual(all);
  });

  it('rejects page without count and malformed numbers with 4.00', async () => {
    for (const uri of ['/rd-lookup/res?page=1', '/rd-lookup/res?count=x', '/rd-lookup/ep?count=-1']) {
      expect((await client.request({ method: 'GET', uri })).code).toBe('4.00');
    }
  });
});

describe('discovery of the RD (RFC 9176 §4.3, RFC 6690 §4)', () => {
  it('lists the interfaces with their resource types', async () => {
    const links = await lookup('/.well-known/core');
    expect(links).toEqual([
      '</rd>;rt="core.rd";ct=40',
      '</rd-lookup/ep>;rt="core.rd-lookup-ep";ct=40',
      '</rd-lookup/res>;rt="core.rd-lookup-res";ct=40',
      '</rd-group>;rt="core.rd-group";ct=40',
      '</rd-lookup/gp>;rt="core.rd-lookup-gp";ct=40',
    ]);
  });

  it('honours ?rt= filters, exact and wildcard, and href', async () => {
    expect(await lookup('/.well-known/core?rt=core.rd')).toEqual(['</rd>;rt="core.rd";ct=40']);
    expect(await lookup('/.well-known/core?rt=core.rd-lookup*')).toHaveLength(3);
    expect(await lookup('/.well-known/core?rt=core.rd*')).toHaveLength(5);
    expect(await lookup('/.well-known/core?href=/rd-lookup/res')).toEqual([
      expect.stringContaining('core.rd-lookup-res'),
    ]);
    expect(await lookup('/.well-known/core?rt=nothing')).toEqual([]);
  });
});

describe('large lookup results (RFC 7959 Block2)', () => {
  it('are rendered once per directory version, with that version as ETag', async () => {
    const request = {
      method: 'GET' as const,
      path: ['rd-lookup', 'res'],
      query: [],
      contentFormat: undefined,
      accept: undefined,
      observe: undefined,
      payload: Buffer.alloc(0),
      source: { address: '127.0.0.1', port: 1, family: 'IPv4' as const },
      multicast: false,
    };
    const lookup = new Lookup(rd.rd.directory, rd.store);
    const bulk = Array.from({ length: 20 }, (_, i) => `</bulk/${i}>;rt="bulk"`).join(',');
    await register(client, 'ep=bulky', bulk);
    const first = await lookup.resources(request);
    expect(String(first.payload).length).toBeGreaterThan(1024);
    expect(first.etag).toBeDefined();
    expect(await lookup.resources(request)).toBe(first);
    // A lifetime refresh changes nothing a lookup shows; a new attribute does.
    expect((await client.request({ method: 'POST', uri: `/rd/${ids.node1}` })).code).toBe('2.04');
    expect(await lookup.resources(request)).toBe(first);
    expect((await client.request({ method: 'POST', uri: `/rd/${ids.node1}?color=green` })).code).toBe('2.04');
    const after = await lookup.resources(request);
    expect(after).not.toBe(first);
    expect(after.etag).not.toEqual(first.etag);
  });
});
