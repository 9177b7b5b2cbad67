import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';

let rd: RdFixture;
beforeEach(async () => {
  rd = await new RdFixture().start();
});
afterEach(async () => {
  await rd.close();
});

describe('registration interface (RFC 9176 §5.3)', () => {
  it('answers 2.01 with a two-segment location and stores the links', async () => {
    const client = await rd.client();
    const reply = await client.request({
      method: 'POST',
      uri: '/rd?ep=node1&d=floor1&et=oic.d.sensor',
      payload: '</sensors/temp>;rt="temperature";if="sensor",</sensors/light>;rt="light-lux"',
      contentFormat: 40,
    });
    expect(reply.code).toBe('2.01');
    expect(reply.locationPath).toHaveLength(2);
    expect(reply.locationPath[0]).toBe('rd');
    expect(reply.locationPath[1]).toMatch(/^[a-z0-9]{1,16}$/);
    const read = await client.request({ method: 'GET', uri: `/rd/${reply.locationPath[1]}` });
    expect(read.code).toBe('2.05');
    expect(read.contentFormat).toBe(40);
    expect(read.payload).toBe('</sensors/temp>;rt="temperature";if="sensor",</sensors/light>;rt="light-lux"');
    expect(rd.eventsOf(reply.locationPath[1]!)).toEqual(['device.registered']);
    const device = rd.store.devices.get(reply.locationPath[1]!)!;
    expect(device).toMatchObject({
      ep: 'node1',
      d: 'floor1',
      host: '127.0.0.1',
      status: 'online',
      source: 'registration',
    });
  });

  it('uses lt from the query, else the configured default of 90000 s', async () => {
    const client = await rd.client();
    const withLt = await register(client, 'ep=a&lt=120');
    const withoutLt = await register(client, 'ep=b');
    expect(rd.store.registrations.get(withLt)!.lt).toBe(120);
    expect(rd.store.registrations.get(withoutLt)!.lt).toBe(90_000);
  });

  it('takes the registrant address as base, IPv4 and IPv6 (bracketed)', async () => {
    const v4 = await rd.client('127.0.0.1');
    const v6 = await rd.client('::1');
    const id4 = await register(v4, 'ep=v4');
    const id6 = await register(v6, 'ep=v6');
    expect(rd.store.registrations.get(id4)!.base).toMatch(/^coap:\/\/127\.0\.0\.1:\d+$/);
    expect(rd.store.registrations.get(id6)!.base).toMatch(/^coap:\/\/\[::1\]:\d+$/);
  });

  it('re-registering the same (d, ep) replaces the registration and keeps the location', async () => {
    const client = await rd.client();
    const first = await register(client, 'ep=node1', '</a>;rt="old"');
    const second = await register(client, 'ep=node1&lt=500', '</b>;rt="new"');
    expect(second).toBe(first);
    expect(rd.store.registrations.get(first)).toMatchObject({ lt: 500, links: [{ href: '/b', attrs: { rt: 'new' } }] });
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/res?ep=node1' });
    expect(lookup.payload).not.toContain('old');
    expect(rd.eventsOf(first)).toEqual(['device.registered', 'device.registered']);
  });

  it('the same ep in another sector is another endpoint', async () => {
    const client = await rd.client();
    const a = await register(client, 'ep=node1&d=east');
    const b = await register(client, 'ep=node1&d=west');
    expect(a).not.toBe(b);
  });

  it('a device re-registering from a new address keeps its id and gets its new base', async () => {
    const before = await rd.client();
    const after = await rd.client();
    const id = await register(before, 'ep=mover');
    const again = await register(after, 'ep=mover');
    expect(again).toBe(id);
    expect(rd.store.devices.get(id)!.port).toBe(after.localPort);
    expect(rd.store.registrations.get(id)!.base).toBe(`coap://127.0.0.1:${after.localPort}`);
  });

  it('re-registering the same links, from the same or a new address, keeps them findable by rt at the current base', async () => {
    const before = await rd.client();
    const after = await rd.client();
    const id = await register(before, 'ep=repeater', '</t>;rt="temperature"');
    await register(before, 'ep=repeater', '</t>;rt="temperature"');
    const same = await before.request({ method: 'GET', uri: '/rd-lookup/res?rt=temperature' });
    expect(same.payload).toContain(`<coap://127.0.0.1:${before.localPort}/t>`);
    expect(await register(after, 'ep=repeater', '</t>;rt="temperature"')).toBe(id);
    const moved = await after.request({ method: 'GET', uri: '/rd-lookup/res?rt=temperature' });
    expect(moved.payload).toBe(
      `<coap://127.0.0.1:${after.localPort}/t>;rt="temperature";anchor="coap://127.0.0.1:${after.localPort}"`,
    );
    await register(after, 'ep=repeater', '</t>;rt="humidity"');
    const changed = await after.request({ method: 'GET', uri: '/rd-lookup/res?rt=temperature' });
    expect(changed.payload).toBe('');
  });

  it('an explicit base is used to resolve the links', async () => {
    const client = await rd.client();
    await register(client, 'ep=proxied&base=coap://proxy.example.com:5683', '</temp>;rt="temperature"');
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/res?ep=proxied' });
    expect(lookup.payload).toBe(
      '<coap://proxy.example.com:5683/temp>;rt="temperature";anchor="coap://proxy.example.com:5683"',
    );
  });

  it('without requireEp, the RD names the endpoint', async () => {
    await rd.close();
    rd = await new RdFixture({ requireEp: false }).start();
    const client = await rd.client();
    const id = await register(client, 'lt=60');
    expect(rd.store.registrations.get(id)!.ep).toMatch(/^[a-z0-9]+$/);
  });

  it('adopts a device discovered at the same address (docs/design.md "Identity")', async () => {
    const client = await rd.client();
    const discovered = rd.rd.directory.registerDiscovered(
      '127.0.0.1',
      client.localPort,
      [{ href: '/x', attrs: {} }],
      60,
    );
    expect(discovered.ok).toBe(true);
    const id = discovered.ok ? discovered.deviceId : '';
    expect(rd.store.registrations.get(id)).toMatchObject({ discovered: true, ep: id });
    const registered = await register(client, 'ep=adopted');
    expect(registered).toBe(id);
    expect(rd.store.devices.get(id)).toMatchObject({ ep: 'adopted', source: 'discovery' });
    expect(rd.store.registrations.get(id)!.discovered).toBe(false);
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.registered']);
  });
});

describe('discovered devices (Directory.registerDiscovered)', () => {
  it('creates a device with a discovered registration, refreshes it, and never clobbers a real one', async () => {
    const directory = rd.rd.directory;
    const first = directory.registerDiscovered('192.0.2.10', 5683, [{ href: '/a', attrs: {} }], 60);
    const again = directory.registerDiscovered('192.0.2.10', 5683, [{ href: '/b', attrs: {} }], 60);
    expect(first.ok && again.ok && first.deviceId === again.deviceId).toBe(true);
    const id = first.ok ? first.deviceId : '';
    expect(rd.store.devices.get(id)).toMatchObject({ ep: null, source: 'discovery', host: '192.0.2.10' });
    expect(rd.store.registrations.get(id)).toMatchObject({ discovered: true, ep: id, base: 'coap://192.0.2.10:5683' });
    expect(rd.store.registrations.get(id)!.links).toEqual([{ href: '/b', attrs: {} }]);
    await rd.store.durable(); // the events follow the commit
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.updated']);

    const client = await rd.client();
    const registered = await register(client, 'ep=real', '</real>');
    const rediscovered = directory.registerDiscovered('127.0.0.1', client.localPort, [{ href: '/x', attrs: {} }], 60);
    expect(rediscovered).toEqual({ ok: true, deviceId: registered });
    expect(rd.store.registrations.get(registered)).toMatchObject({
      discovered: false,
      links: [{ href: '/real', attrs: {} }],
    });
  });
});

describe('registration resource (RFC 9176 §5.3.1, §5.3.2)', () => {
  it('update refreshes the lifetime and answers 2.04', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1&lt=100');
    const before = rd.store.registrations.get(id)!.expiresAt;
    await new Promise((r) => setTimeout(r, 5));
    const reply = await client.request({ method: 'POST', uri: `/rd/${id}` });
    expect(reply.code).toBe('2.04');
    expect(rd.store.registrations.get(id)!.expiresAt).toBeGreaterThan(before);
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.updated']);
  });

  it('update changes lt, base, et and extra attributes, keeping the others', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1&lt=100&et=a&color=red&size=1');
    const reply = await client.request({
      method: 'POST',
      uri: `/rd/${id}?lt=200&base=coaps://new.example.com:5684&et=b&color=blue`,
    });
    expect(reply.code).toBe('2.04');
    expect(rd.store.registrations.get(id)).toMatchObject({
      lt: 200,
      base: 'coaps://new.example.com:5684',
      baseExplicit: true,
      et: 'b',
      attrs: { color: 'blue', size: '1' },
    });
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/res?ep=node1' });
    expect(lookup.payload).toBe(
      '<coaps://new.example.com:5684/sensors/temp>;rt="temperature";anchor="coaps://new.example.com:5684"',
    );
  });

  it('update from a new address moves an implicit base and the device, keeps an explicit one and its address', async () => {
    const first = await rd.client();
    const moved = await rd.client();
    const implicit = await register(first, 'ep=implicit');
    const explicit = await register(first, 'ep=explicit&base=coap://fixed.example.com');
    expect((await moved.request({ method: 'POST', uri: `/rd/${implicit}` })).code).toBe('2.04');
    expect((await moved.request({ method: 'POST', uri: `/rd/${explicit}` })).code).toBe('2.04');
    expect(rd.store.registrations.get(implicit)!.base).toBe(`coap://127.0.0.1:${moved.localPort}`);
    expect(rd.store.registrations.get(explicit)!.base).toBe('coap://fixed.example.com');
    // RFC 9176 §5.1, §5.3.1: the device is reached at its base; a new source moves only an implicit one.
    expect(rd.store.devices.get(implicit)).toMatchObject({ host: '127.0.0.1', port: moved.localPort });
    expect(rd.store.devices.get(explicit)).toMatchObject({ host: 'fixed.example.com', port: 5683 });
  });

  it('update with a link-format payload replaces the links', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1', '</old>');
    const reply = await client.request({
      method: 'POST',
      uri: `/rd/${id}`,
      payload: '</new>;rt="fresh"',
      contentFormat: 40,
    });
    expect(reply.code).toBe('2.04');
    expect((await client.request({ method: 'GET', uri: `/rd/${id}` })).payload).toBe('</new>;rt="fresh"');
  });

  it('update cannot rename the endpoint', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1');
    expect((await client.request({ method: 'POST', uri: `/rd/${id}?ep=other` })).code).toBe('4.00');
  });

  it('DELETE answers 2.02; afterwards every operation on it is 4.04', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1');
    expect((await client.request({ method: 'DELETE', uri: `/rd/${id}` })).code).toBe('2.02');
    expect((await client.request({ method: 'GET', uri: `/rd/${id}` })).code).toBe('4.04');
    expect((await client.request({ method: 'POST', uri: `/rd/${id}` })).code).toBe('4.04');
    expect((await client.request({ method: 'DELETE', uri: `/rd/${id}` })).code).toBe('4.04');
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/ep?ep=node1' })).payload).toBe('');
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.removed:deleted', 'device.offline']);
    expect(rd.store.devices.get(id)!.status).toBe('offline');
  });

  it('an unknown registration is 4.04', async () => {
    const client = await rd.client();
    expect((await client.request({ method: 'GET', uri: '/rd/nosuchid' })).code).toBe('4.04');
    expect((await client.request({ method: 'POST', uri: '/rd/nosuchid' })).code).toBe('4.04');
    expect((await client.request({ method: 'DELETE', uri: '/rd/nosuchid' })).code).toBe('4.04');
  });

  it('a device that registers again after removal keeps its id and comes back online', async () => {
    const client = await rd.client();
    const id = await register(client, 'ep=node1');
    await client.request({ method: 'DELETE', uri: `/rd/${id}` });
    expect(await register(client, 'ep=node1')).toBe(id);
    expect(rd.store.devices.get(id)!.status).toBe('online');
    expect(rd.eventsOf(id).slice(-2)).toEqual(['device.registered', 'device.online']);
  });
});

describe('LwM2M-shaped registrations', () => {
  it('accepts /rd?ep=..&lt=..&lwm2m=1.0&b=U with </1/0>,</3/0> and the bare update', async () => {
    const client = await rd.client();
    const reply = await client.request({
      method: 'POST',
      uri: '/rd?ep=urn:imei:123456789012345&lt=300&lwm2m=1.0&b=U',
      payload: '</1/0>,</3/0>',
      contentFormat: 40,
    });
    expect(reply.code).toBe('2.01');
    const id = reply.locationPath[1]!;
    expect(reply.locationPath).toEqual(['rd', id]);
    expect((await client.request({ method: 'POST', uri: `/rd/${id}` })).code).toBe('2.04');
    expect((await client.request({ method: 'POST', uri: `/rd/${id}?lt=600&b=U` })).code).toBe('2.04');
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/ep?lwm2m=1.0' });
    expect(lookup.payload).toContain(`</rd/${id}>`);
    expect(lookup.payload).toContain('lwm2m="1.0"');
    expect(lookup.payload).toContain('b="U"');
    expect(rd.store.registrations.get(id)!.lt).toBe(600);
  });
});
