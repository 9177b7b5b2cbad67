import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { RdFixture, register } from './fixture.js';

let rd: RdFixture | undefined;
afterEach(async () => {
  await rd?.close();
  rd = undefined;
});

describe('lifetime (RFC 9176 §5.3 lt)', () => {
  it('a registration not refreshed within lt disappears, the device goes offline, events once', async () => {
    rd = await new RdFixture({ expiryCheckSeconds: 0.1 }).start();
    const client = await rd.client();
    const id = await register(client, 'ep=short&lt=1');
    const keep = await register(client, 'ep=long&lt=3600');
    await waitFor(() => rd!.store.devices.get(id)!.status === 'offline', { what: 'device offline' });
    expect((await client.request({ method: 'GET', uri: `/rd/${id}` })).code).toBe('4.04');
    expect((await client.request({ method: 'POST', uri: `/rd/${id}` })).code).toBe('4.04');
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/ep' });
    expect(lookup.payload).not.toContain(id);
    expect(lookup.payload).toContain(keep);
    await rd.store.durable(); // the events follow the commit
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.removed:expired', 'device.offline']);
    expect(rd.store.registrations.get(id)).toBeUndefined();
  });

  it('an update keeps a registration alive past its first lifetime', async () => {
    rd = await new RdFixture({ expiryCheckSeconds: 0.1 }).start();
    const client = await rd.client();
    const id = await register(client, 'ep=refreshed&lt=2');
    // Refresh with a long lifetime, then wait past the first lifetime for a sweep to have run.
    expect((await client.request({ method: 'POST', uri: `/rd/${id}?lt=3600` })).code).toBe('2.04');
    const firstExpiry = Date.now() + 2000;
    await waitFor(() => Date.now() > firstExpiry + 300, { what: 'first lifetime over' });
    expect((await client.request({ method: 'GET', uri: `/rd/${id}` })).code).toBe('2.05');
    expect(rd.store.devices.get(id)!.status).toBe('online');
  });
});

describe('restart persistence', () => {
  it('registrations, locations and groups survive closing and reopening the store', async () => {
    rd = await new RdFixture().start();
    let client = await rd.client();
    const id = await register(client, 'ep=persistent&d=site&et=sensor&lt=3600', '</temp>;rt="temperature";obs');
    const group = await client.request({
      method: 'POST',
      uri: '/rd-group?gp=all',
      payload: '<>;ep=persistent;d=site',
      contentFormat: 40,
    });
    expect(group.code).toBe('2.01');
    await rd.reopen();
    client = await rd.client();
    expect((await client.request({ method: 'GET', uri: `/rd/${id}` })).payload).toBe('</temp>;rt="temperature";obs');
    const lookup = await client.request({ method: 'GET', uri: '/rd-lookup/res?rt=temperature' });
    expect(lookup.payload).toContain('/temp>;rt="temperature";obs;anchor=');
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/ep?gp=all' })).payload).toContain(`</rd/${id}>`);
    expect((await client.request({ method: 'POST', uri: `/rd/${id}` })).code).toBe('2.04');
    expect(await register(client, 'ep=persistent&d=site')).toBe(id);
  });

  it('registrations that expired while the RD was down are removed at start, with their events', async () => {
    rd = await new RdFixture().start();
    const client = await rd.client();
    const id = await register(client, 'ep=gone&lt=1');
    await rd.stop();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await rd.start();
    expect(rd.store.registrations.get(id)).toBeUndefined();
    expect(rd.eventsOf(id)).toEqual(['device.registered', 'device.removed:expired', 'device.offline']);
  });
});
