import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { multicastGroups } from '../../rd/index.js';
import { thingLinks } from '../../rd/discovery/links.js';
import type { CoapReply } from '../../src/coap/types.js';
import { parseConfig } from '../../src/config.js';

const discovery = (raw: object, env: Record<string, string> = {}) =>
  parseConfig({ discovery: raw }, 'test', env).discovery;

describe('multicastGroups (the RD joins them; discovery sends to them)', () => {
  it('puts every All-CoAP-Nodes group on the default interface when none is configured', () => {
    expect(multicastGroups(discovery({}))).toEqual([{ group: '224.0.1.187' }, { group: 'ff02::fd' }]);
  });

  it('pairs each group only with interfaces of its family (COREGATE_DISCOVERY_INTERFACES)', () => {
    const config = discovery({}, { COREGATE_DISCOVERY_INTERFACES: '127.0.0.1, ::%lo' });
    expect(multicastGroups(config)).toEqual([
      { group: '224.0.1.187', interface: '127.0.0.1' },
      { group: 'ff02::fd', interface: '::%lo' },
    ]);
  });

  it.skipIf(os.networkInterfaces().lo === undefined)('resolves an interface name for both families', () => {
    expect(multicastGroups(discovery({ interfaces: ['lo'] }))).toEqual([
      { group: '224.0.1.187', interface: '127.0.0.1' },
      { group: 'ff02::fd', interface: '::%lo' },
    ]);
  });

  it('joins nothing when discovery (COREGATE_DISCOVERY=off) or multicast is off', () => {
    expect(multicastGroups(discovery({}, { COREGATE_DISCOVERY: 'off' }))).toEqual([]);
    expect(multicastGroups(discovery({ multicast: false }))).toEqual([]);
  });
});

describe('thingLinks (what a /.well-known/core answer contributes)', () => {
  const reply = (code: CoapReply['code'], payload: string, contentFormat: number | undefined = 40): CoapReply => ({
    code,
    contentFormat,
    payload: Buffer.from(payload),
    maxAge: undefined,
    observe: undefined,
    etag: undefined,
    source: { address: '127.0.0.1', port: 5683, family: 'IPv4' },
  });

  it('takes the links of a thing (RFC 6690)', () => {
    expect(thingLinks(reply('2.05', '</sensors/temp>;rt="temperature";obs,</led>'))).toEqual([
      { href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } },
      { href: '/led', attrs: {} },
    ]);
  });

  it('leaves out Resource Directories (RFC 9176 §4), errors, other formats and broken documents', () => {
    expect(thingLinks(reply('2.05', '</rd>;rt=core.rd,</rd-lookup/ep>;rt=core.rd-lookup-ep'))).toBeUndefined();
    expect(thingLinks(reply('4.04', ''))).toBeUndefined();
    expect(thingLinks(reply('2.05', '{"a":1}', 50))).toBeUndefined();
    expect(thingLinks(reply('2.05', '</unterminated'))).toBeUndefined();
  });
});
