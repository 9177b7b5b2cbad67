import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';
import type { TestClient } from './udp-client.js';

let rd: RdFixture;
let client: TestClient;
let node1: string;
let node2: string;
beforeEach(async () => {
  rd = await new RdFixture().start();
  client = await rd.client();
  node1 = await register(client, 'ep=node1', '</light>;rt="light"');
  node2 = await register(client, 'ep=node2', '</light>;rt="light"');
  await register(client, 'ep=node3', '</door>;rt="door"');
});
afterEach(async () => {
  await rd.close();
});

const createGroup = (payload: string, query = 'gp=lights&con=coap://[ff35:30:2001:db8::1]') =>
  client.request({ method: 'POST', uri: `/rd-group?${query}`, payload, contentFormat: 40 });

describe('groups (draft-ietf-core-resource-directory-11 §6.3)', () => {
  it('registers a group of endpoints: 2.01 with a location under /rd-group', async () => {
    const reply = await createGroup('<>;ep="node1",<>;ep="node2"');
    expect(reply.code).toBe('2.01');
    expect(reply.locationPath).toEqual(['rd-group', expect.stringMatching(/^[a-z0-9]+$/)]);
    expect(rd.store.groups.get(reply.locationPath[1]!)!.members).toEqual([node1, node2]);
    const read = await client.request({ method: 'GET', uri: `/rd-group/${reply.locationPath[1]}` });
    expect(read.code).toBe('2.05');
    expect(read.payload).toContain(`</rd/${node1}>`);
    expect(read.payload).toContain(`</rd/${node2}>`);
  });

  it('resolves a member named by ep alone when one sector has it; an ambiguous ep gets 4.00 saying so', async () => {
    const sectored = await register(client, 'ep=lamp7&d=floor1', '</light>;rt="light"');
    // draft-11 §6.5's example names members by ep only, without the sector they registered with.
    const reply = await createGroup('<>;ep="lamp7"', 'gp=floor-lights');
    expect(reply.code).toBe('2.01');
    expect(rd.store.groups.get(reply.locationPath[1]!)!.members).toEqual([sectored]);

    await register(client, 'ep=lamp7&d=floor2', '</light>;rt="light"');
    const ambiguous = await createGroup('<>;ep="lamp7"', 'gp=all-lamps');
    expect(ambiguous.code).toBe('4.00');
    expect(ambiguous.payload).toBe('ep "lamp7" is registered in several sectors (floor1, floor2): give d');
    const named = await createGroup('<>;ep="lamp7";d="floor2"', 'gp=all-lamps');
    expect(named.code).toBe('2.01');
  });

  it('accepts members named by their registration resource', async () => {
    const reply = await createGroup(`</rd/${node2}>`);
    expect(rd.store.groups.get(reply.locationPath[1]!)!.members).toEqual([node2]);
  });

  it('group lookup filters by gp, con and member ep', async () => {
    const { locationPath } = await createGroup('<>;ep="node1"');
    await createGroup('<>;ep="node3"', 'gp=doors');
    const lookup = async (q: string) => (await client.request({ method: 'GET', uri: `/rd-lookup/gp?${q}` })).payload;
    expect(await lookup('gp=lights')).toBe(
      `</rd-group/${locationPath[1]}>;gp="lights";con="coap://[ff35:30:2001:db8::1]"`,
    );
    expect(await lookup('ep=node3')).toContain('gp="doors"');
    expect(await lookup('ep=node2')).toBe('');
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/gp' })).payload.split(',<')).toHaveLength(2);
  });

  it('gp= in endpoint and resource lookup selects the members', async () => {
    await createGroup('<>;ep="node1",<>;ep="node3"');
    const eps = await client.request({ method: 'GET', uri: '/rd-lookup/ep?gp=lights' });
    expect(eps.payload.split(',<')).toHaveLength(2);
    expect(eps.payload).toContain(`</rd/${node1}>`);
    expect(eps.payload).not.toContain(`</rd/${node2}>`);
    const res = await client.request({ method: 'GET', uri: '/rd-lookup/res?gp=lights&rt=light' });
    expect(res.payload.split(',<')).toHaveLength(1);
  });

  it('updates the members with POST and removes the group with DELETE', async () => {
    const { locationPath } = await createGroup('<>;ep="node1"');
    const uri = `/rd-group/${locationPath[1]}`;
    expect((await client.request({ method: 'POST', uri, payload: '<>;ep="node2"', contentFormat: 40 })).code).toBe(
      '2.04',
    );
    expect(rd.store.groups.get(locationPath[1]!)!.members).toEqual([node2]);
    expect((await client.request({ method: 'DELETE', uri })).code).toBe('2.02');
    expect((await client.request({ method: 'GET', uri })).code).toBe('4.04');
    expect((await client.request({ method: 'DELETE', uri })).code).toBe('4.04');
  });

  it('registering the same gp again replaces the group at the same location', async () => {
    const first = await createGroup('<>;ep="node1"');
    const second = await createGroup('<>;ep="node2"');
    expect(second.code).toBe('2.04');
    expect(second.locationPath).toEqual(first.locationPath);
  });

  it('rejects a missing gp and unknown members with 4.00', async () => {
    expect((await createGroup('<>;ep="node1"', 'con=coap://[ff35::1]')).code).toBe('4.00');
    const unknown = await createGroup('<>;ep="ghost"');
    expect(unknown.code).toBe('4.00');
    expect(unknown.payload).toContain('unknown endpoint');
  });
});
