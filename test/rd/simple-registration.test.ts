import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
    it(`POST ${path}?ep=... is acknowledged, fetches /.well-known/core from the RD's port, then answers 2.04`, async () => {
      const device = await rd.client();
      device.wellKnownCore = '</sen/temp>;rt="temperature";obs';
      const reply = await device.request({ method: 'POST', uri: `${path}?ep=simple1&lt=6000` });
      // RFC 9176 §5.1: empty ACK first, the fetch, then 2.04 as a separate CON (acknowledged by the device).
      expect(reply.code).toBe('2.04');
      expect(device.emptyAcks).toBe(1);
      expect(device.separate).toEqual(['2.04']);
      expect(device.served).toEqual(['.well-known/core']);
      expect(device.servedFrom).toEqual([rd.port]);
      // Registered before the 2.04 was sent: a lookup right after finds it.
      const lookup = await device.request({ method: 'GET', uri: '/rd-lookup/res?ep=simple1' });
      const base = `coap://127.0.0.1:${device.localPort}`;
      expect(lookup.payload).toBe(`<${base}/sen/temp>;rt="temperature";obs;anchor="${base}"`);
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

  it('registers nothing and answers 5.02 with a diagnostic when the requester does not serve /.well-known/core', async () => {
    const device = await rd.client();
    const reply = await device.request({ method: 'POST', uri: '/.well-known/rd?ep=silent' });
    expect(reply).toMatchObject({ code: '5.02', payload: 'GET /.well-known/core answered 4.04' });
    expect(device.served).toEqual(['.well-known/core']);
    expect(rd.store.registrations.count()).toBe(0);
    expect(rd.store.devices.count()).toBe(0);
  });
});
