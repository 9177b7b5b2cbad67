import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { RdFixture } from './fixture.js';

let rd: RdFixture;
beforeEach(async () => {
  rd = await new RdFixture().start();
});
afterEach(async () => {
  await rd.close();
});

describe('simple registration (RFC 9176 §5.1)', () => {
  for (const path of ['/.well-known/rd', '/.well-known/core']) {
    it(`POST ${path}?ep=... answers 2.04, then fetches /.well-known/core and registers it`, async () => {
      const device = await rd.client();
      device.wellKnownCore = '</sen/temp>;rt="temperature";obs';
      const reply = await device.request({ method: 'POST', uri: `${path}?ep=simple1&lt=6000` });
      expect(reply.code).toBe('2.04');
      const found = await waitFor(
        async () => {
          const lookup = await device.request({ method: 'GET', uri: '/rd-lookup/res?ep=simple1' });
          return lookup.payload || undefined;
        },
        { what: 'simple registration' },
      );
      const base = `coap://127.0.0.1:${device.localPort}`;
      expect(found).toBe(`<${base}/sen/temp>;rt="temperature";obs;anchor="${base}"`);
      const [reg] = [...rd.store.registrations.all()];
      expect(reg).toMatchObject({ ep: 'simple1', lt: 6000, baseExplicit: false });
      expect(rd.store.devices.get(reg!.deviceId)!.source).toBe('simple');
    });
  }

  it('rejects a payload, a base and a missing ep with 4.00', async () => {
    const device = await rd.client();
    expect(
      (await device.request({ method: 'POST', uri: '/.well-known/rd?ep=x', payload: '</a>', contentFormat: 40 })).code,
    ).toBe('4.00');
    expect((await device.request({ method: 'POST', uri: '/.well-known/rd?ep=x&base=coap://a' })).code).toBe('4.00');
    expect((await device.request({ method: 'POST', uri: '/.well-known/rd' })).code).toBe('4.00');
  });

  it('registers nothing when the requester does not serve /.well-known/core', async () => {
    const device = await rd.client();
    expect((await device.request({ method: 'POST', uri: '/.well-known/rd?ep=silent' })).code).toBe('2.04');
    await waitFor(() => device.served.includes('.well-known/core'), { what: 'the RD fetching /.well-known/core' });
    await rd.reopen(); // stop() waits for the fetch in flight to finish
    expect(rd.store.registrations.count()).toBe(0);
    expect(rd.store.devices.count()).toBe(0);
  });
});
