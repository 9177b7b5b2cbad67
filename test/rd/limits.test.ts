import { afterEach, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';

let rd: RdFixture | undefined;
afterEach(async () => {
  await rd?.close();
  rd = undefined;
});

describe('limits (docs/design.md "Limits")', () => {
  it('a source outside the allowed networks gets 4.03 on changes; lookups still work', async () => {
    rd = await new RdFixture({ limits: { allowedNetworks: ['10.0.0.0/8', 'fd00::/8'] } }).start();
    const client = await rd.client();
    const reply = await client.request({ method: 'POST', uri: '/rd?ep=outsider', payload: '</a>', contentFormat: 40 });
    expect(reply.code).toBe('4.03');
    expect(rd.store.devices.count()).toBe(0);
    expect((await client.request({ method: 'GET', uri: '/rd-lookup/ep' })).code).toBe('2.05');
  });

  it('an allowed network (IPv4 via the dual-stack socket, and IPv6) may register', async () => {
    rd = await new RdFixture({ limits: { allowedNetworks: ['127.0.0.0/8', '::1/128'] } }).start();
    expect(await register(await rd.client('127.0.0.1'), 'ep=v4')).toBeTruthy();
    expect(await register(await rd.client('::1'), 'ep=v6')).toBeTruthy();
  });

  it('past maxRegistrations a new registration gets 5.03 with Max-Age; re-registering still works', async () => {
    rd = await new RdFixture({ limits: { maxRegistrations: 1 } }).start();
    const client = await rd.client();
    const id = await register(client, 'ep=first');
    const refused = await client.request({ method: 'POST', uri: '/rd?ep=second', payload: '', contentFormat: 40 });
    expect(refused.code).toBe('5.03');
    expect(refused.maxAge).toBe(60);
    expect(await register(client, 'ep=first')).toBe(id);
    expect(rd.store.devices.count()).toBe(1);
  });

  it('requests per second per source, when set, give 5.03 with Max-Age', async () => {
    rd = await new RdFixture({ limits: { requestsPerSecondPerSource: 2 } }).start();
    const client = await rd.client();
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => client.request({ method: 'GET', uri: '/rd-lookup/ep' })),
    );
    const limited = replies.filter((r) => r.code === '5.03');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.maxAge).toBe(1);
    expect(replies.some((r) => r.code === '2.05')).toBe(true);
  });

  it('is off by default: many requests from one source are all answered', async () => {
    rd = await new RdFixture().start();
    const client = await rd.client();
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => client.request({ method: 'GET', uri: '/rd-lookup/ep' })),
    );
    expect(replies.every((r) => r.code === '2.05')).toBe(true);
  });
});
