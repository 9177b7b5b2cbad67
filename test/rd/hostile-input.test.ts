import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RdFixture, register } from './fixture.js';
import type { TestClient } from './udp-client.js';

/** Registrations put straight into the directory (fast), each with five links. */
function populate(rd: RdFixture, count: number): void {
  const links = Array.from({ length: 5 }, (_, i) => ({ href: `/s/${i}`, attrs: { rt: `type${i}`, if: 'core.s' } }));
  for (let i = 0; i < count; i++) {
    rd.rd.directory.register(
      { ep: `bulk${i}`, d: null, lt: 3600, base: undefined, et: null, attrs: {}, links },
      { host: '127.0.0.1', port: 10_000 + i },
      'registration',
    );
  }
  rd.rd.directory.flush();
}

type RdOverrides = ConstructorParameters<typeof RdFixture>[0];

/** One RD per describe block, with `registrations` put in before its tests, and one client. */
function useRd(overrides: RdOverrides = {}, registrations = 0): { rd: RdFixture; client: TestClient } {
  const the = {} as { rd: RdFixture; client: TestClient };
  beforeAll(async () => {
    the.rd = await new RdFixture(overrides).start();
    the.client = await the.rd.client();
    populate(the.rd, registrations);
  });
  afterAll(async () => {
    await the.rd.close();
  });
  return the;
}

describe('lookups cost bounded work, whatever the directory size', () => {
  const the = useRd({ limits: { lookupBudget: 10_000 } }, 2_000);

  it('15,000 identical filters in one 60 KB datagram collapse to one and are answered', async () => {
    const filters = Array.from({ length: 15_000 }, () => 'a=*').join('&');
    const reply = await the.client.request({ method: 'GET', uri: `/rd-lookup/res?ep=bulk7&${filters}` });
    expect(reply.code).toBe('2.05');
    expect(reply.payload).toBe('');
  });

  it('more distinct filters than maxLookupFilters (16) is 4.00 with a diagnostic', async () => {
    const filters = Array.from({ length: 17 }, (_, i) => `a${i}=*`).join('&');
    const reply = await the.client.request({ method: 'GET', uri: `/rd-lookup/res?${filters}` });
    expect(reply.code).toBe('4.00');
    expect(reply.payload).toBe('too many lookup filters (17, at most 16)');
    // Group lookup (draft-ietf-core-resource-directory-11 §7) takes the same bound.
    const groups = await the.client.request({ method: 'GET', uri: `/rd-lookup/gp?${filters}` });
    expect([groups.code, groups.payload]).toEqual(['4.00', 'too many lookup filters (17, at most 16)']);
  });

  it('a lookup past its attribute-test budget is 5.03; a narrowed one is answered', async () => {
    const wide = await the.client.request({ method: 'GET', uri: '/rd-lookup/res?if=core.s&rt=type4' });
    expect(wide.code).toBe('5.03');
    expect(wide.payload).toMatch(/^lookup needs more than 10000 attribute tests/);
    const narrow = await the.client.request({ method: 'GET', uri: '/rd-lookup/res?ep=bulk9&rt=type4' });
    expect(narrow.code).toBe('2.05');
    expect(narrow.payload).toBe('<coap://127.0.0.1:10009/s/4>;rt="type4";if="core.s";anchor="coap://127.0.0.1:10009"');
  });
});

describe('a long lookup does not hold registrations back', () => {
  // Large enough that the scan lasts many group-commit windows: a registration is answered only once its batch
  // has committed (docs/architecture.md, "How a write becomes durable"), so a scan of a few ms could win the race.
  const the = useRd({}, 20_000);

  it('a registration sent after a 16-filter full scan is answered before the scan', async () => {
    const looker = await the.rd.client();
    const device = await the.rd.client();
    const order: string[] = [];
    // 20,000 registrations × (1 + 16 × 6) attribute tests: about a hundred slices with a turn between each.
    const filters = Array.from({ length: 16 }, (_, i) => `x${i}=*`).join('&');
    const lookup = looker.request({ method: 'GET', uri: `/rd-lookup/ep?${filters}` }).then((reply) => {
      order.push(`lookup ${reply.code}`);
    });
    const registration = register(device, 'ep=latecomer').then(() => order.push('registration 2.01'));
    await Promise.all([lookup, registration]);
    expect(order).toEqual(['registration 2.01', 'lookup 2.05']);
  });

  it('four long scans hold every slot: a fifth is 5.03 with Max-Age, short lookups are still answered', async () => {
    const looker = await the.rd.client();
    const filters = Array.from({ length: 15 }, (_, i) => `x${i}=*`).join('&');
    const scans = Array.from({ length: 5 }, (_, i) =>
      looker.request({ method: 'GET', uri: `/rd-lookup/ep?${filters}&n=${i}` }),
    );
    // Sent after the scans, so they arrive while every slot is taken; each finishes within its first slice.
    const short = Array.from({ length: 20 }, (_, i) =>
      looker.request({ method: 'GET', uri: `/rd-lookup/res?ep=bulk${i}&rt=type1` }),
    );
    const scanned = await Promise.all(scans);
    expect(scanned.map((reply) => reply.code).sort()).toEqual(['2.05', '2.05', '2.05', '2.05', '5.03']);
    const busy = scanned.find((reply) => reply.code === '5.03')!;
    expect([busy.payload, busy.maxAge]).toEqual(['lookups busy', 1]);
    const answered = await Promise.all(short);
    expect(answered.map((reply) => reply.code)).toEqual(Array(20).fill('2.05'));
    expect(answered[3]!.payload).toBe(
      '<coap://127.0.0.1:10003/s/1>;rt="type1";if="core.s";anchor="coap://127.0.0.1:10003"',
    );
  });
});

describe('bytes a registration may hold', () => {
  const the = useRd({
    limits: {
      maxAttributeBytes: 100,
      maxAttributesPerRegistration: 4,
      maxRegistrationBytes: 600,
      maxDirectoryBytes: 3_000,
    },
  });

  const post = (uri: string, payload = '</a>') =>
    the.client.request({ method: 'POST', uri, payload, contentFormat: 40 });

  it('ep and d beyond 63 bytes (RFC 9176 §9.3) are 4.00', async () => {
    expect((await post(`/rd?ep=${'e'.repeat(63)}`)).code).toBe('2.01');
    const ep = await post(`/rd?ep=${'e'.repeat(64)}`);
    expect([ep.code, ep.payload]).toEqual(['4.00', 'ep longer than 63 bytes']);
    const d = await post(`/rd?ep=x&d=${'d'.repeat(64)}`);
    expect([d.code, d.payload]).toEqual(['4.00', 'd longer than 63 bytes']);
  });

  it('an attribute beyond maxAttributeBytes and more attributes than allowed are 4.13', async () => {
    const long = await post(`/rd?ep=attr&note=${'n'.repeat(100)}`);
    expect([long.code, long.payload]).toEqual(['4.13', "endpoint attribute 'note' longer than 100 bytes"]);
    const many = await post('/rd?ep=attrs&a=1&b=2&c=3&e=4&f=5');
    expect([many.code, many.payload]).toEqual(['4.13', 'too many attributes (at most 4)']);
    const link = await post('/rd?ep=linkattr', `</a>;title="${'t'.repeat(100)}"`);
    expect([link.code, link.payload]).toEqual(['4.13', "link attribute 'title' longer than 100 bytes"]);
  });

  it('updates cannot pile attributes past the limit', async () => {
    const reply = await post('/rd?ep=piler&a=1&b=2&c=3');
    const id = reply.locationPath[1]!;
    expect((await post(`/rd/${id}?e=4`, '')).code).toBe('2.04');
    const more = await post(`/rd/${id}?f=5`, '');
    expect([more.code, more.payload]).toEqual(['4.13', 'too many attributes (at most 4)']);
  });

  it('a registration beyond maxRegistrationBytes is 4.13 and stores nothing', async () => {
    const links = Array.from({ length: 16 }, (_, i) => `</${'p'.repeat(40)}/${i}>`).join(',');
    const reply = await post('/rd?ep=fat', links);
    expect(reply.code).toBe('4.13');
    expect(reply.payload).toMatch(/^registration of \d+ bytes \(at most 600\)$/);
    expect((await the.client.request({ method: 'GET', uri: '/rd-lookup/ep?ep=fat' })).payload).toBe('');
  });

  it('the directory byte budget: 5.03 with Max-Age once spent, space back after a removal', async () => {
    const links = Array.from({ length: 8 }, (_, i) => `</${'q'.repeat(40)}/${i}>`).join(',');
    const ids: string[] = [];
    let refused;
    for (let i = 0; i < 20; i++) {
      const reply = await post(`/rd?ep=budget${i}`, links);
      if (reply.code !== '2.01') {
        refused = reply;
        break;
      }
      ids.push(reply.locationPath[1]!);
    }
    expect(refused?.code).toBe('5.03');
    expect(refused?.payload).toBe('directory full (bytes)');
    expect(refused?.maxAge).toBe(60);
    expect(the.rd.rd.directory.bytes).toBeLessThanOrEqual(3_000);
    // A refresh of a registration already held still works; a removal makes room.
    expect((await post(`/rd/${ids[0]}`, '')).code).toBe('2.04');
    expect((await the.client.request({ method: 'DELETE', uri: `/rd/${ids[0]}` })).code).toBe('2.02');
    expect((await post('/rd?ep=budget-again', links)).code).toBe('2.01');
  });
});

describe("the issue's flood: registrations with 60 one-kilobyte attributes", () => {
  const the = useRd();

  it('every one is refused and the database does not grow', async () => {
    const file = path.join(the.rd.dir, 'rd.db');
    const before = fs.statSync(file).size;
    const attrs = Array.from({ length: 60 }, (_, i) => `a${i}=${'v'.repeat(1000)}`).join('&');
    for (let i = 0; i < 50; i++) {
      const reply = await the.client.request({
        method: 'POST',
        uri: `/rd?ep=flood${i}&${attrs}`,
        payload: '</a>',
        contentFormat: 40,
      });
      // RFC 7252 §5.10: Uri-Query is at most 255 bytes; §5.4.3 makes a longer one a bad critical option.
      expect(reply.code).toBe('4.02');
    }
    // Under the default limits: 32 attributes of 255 bytes is the most one registration can add.
    const widest = Array.from({ length: 33 }, (_, i) => `a${i}=${'v'.repeat(200)}`).join('&');
    expect((await the.client.request({ method: 'POST', uri: `/rd?ep=wide&${widest}`, payload: '</a>' })).code).toBe(
      '4.13',
    );
    expect(the.rd.store.registrations.count()).toBe(0);
    expect(the.rd.rd.directory.bytes).toBe(0);
    expect(fs.statSync(file).size).toBe(before);
  });
});

describe('RFC conformance at the edges', () => {
  const the = useRd();

  it('NUL, CR and LF in ep, d or an attribute are 4.00; nothing raw is echoed in a lookup', async () => {
    for (const query of ['ep=a%00b', 'ep=a%0Db', 'ep=ok&d=x%0Ay', 'ep=ok2&note=x%00']) {
      const reply = await the.client.request({
        method: 'POST',
        uri: `/rd?${decodeURIComponent(query)}`,
        payload: '</a>',
        contentFormat: 40,
      });
      expect(reply.code, query).toBe('4.00');
      expect(reply.payload).toMatch(/contains a control character$/);
    }
    const link = await the.client.request({
      method: 'POST',
      uri: '/rd?ep=ctl',
      payload: '</a>;title="x\r\ny"',
      contentFormat: 40,
    });
    expect(link.code).toBe('4.00');
    const all = await the.client.request({ method: 'GET', uri: '/rd-lookup/ep' });
    // eslint-disable-next-line no-control-regex
    expect(all.payload).not.toMatch(/[\u0000-\u001f]/);
  });

  it('a link to port 99999 is 4.00', async () => {
    const reply = await the.client.request({
      method: 'POST',
      uri: '/rd?ep=port',
      payload: '<coap://[::1]:99999/x>',
      contentFormat: 40,
    });
    expect(reply.code).toBe('4.00');
    expect(reply.payload).toBe("link target 'coap://[::1]:99999/x' is not a valid URI");
    const anchor = await the.client.request({
      method: 'POST',
      uri: '/rd?ep=port2',
      payload: '</x>;anchor="coap://h:70000"',
      contentFormat: 40,
    });
    expect(anchor.code).toBe('4.00');
    expect(
      (
        await the.client.request({
          method: 'POST',
          uri: '/rd?ep=port3',
          payload: '<coap://[::1]:5683/x>',
          contentFormat: 40,
        })
      ).code,
    ).toBe('2.01');
  });

  it('a 9-byte Uri-Port is 4.02 (RFC 7252 §5.4.3, §5.10: 0-2 bytes)', async () => {
    const reply = await the.client.request({
      method: 'POST',
      uri: '/rd?ep=uriport',
      payload: '</a>',
      contentFormat: 40,
      extraOptions: [{ name: 'Uri-Port', value: Buffer.alloc(9, 1) }],
    });
    expect(reply.code).toBe('4.02');
    const fine = await the.client.request({
      method: 'POST',
      uri: '/rd?ep=uriport',
      payload: '</a>',
      contentFormat: 40,
      extraOptions: [{ name: 'Uri-Port', value: Buffer.from([0x16, 0x33]) }],
    });
    expect(fine.code).toBe('2.01');
  });
});
