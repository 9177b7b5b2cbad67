import { describe, expect, it } from 'vitest';
import { CoapError, type CoapRequest } from '../../src/coap/types.js';
import { wellKnownCore } from '../../rd/well-known.js';

const request = (query: string[], multicast: boolean): CoapRequest => ({
  method: 'GET',
  path: ['.well-known', 'core'],
  query,
  contentFormat: undefined,
  accept: undefined,
  observe: undefined,
  payload: Buffer.alloc(0),
  source: { address: '127.0.0.1', port: 5683, family: 'IPv4' },
  multicast,
});

/** The RD's registration interface as its route table lists it. */
const interfaces = [{ href: '/rd', attrs: { rt: 'core.rd', ct: '40' } }];

describe('/.well-known/core to multicast (RFC 6690 §4.1, RFC 7252 §8.2)', () => {
  it('answers a matching multicast query', () => {
    expect(wellKnownCore(request(['rt=core.rd*'], true), interfaces).payload).toContain('</rd>;rt="core.rd"');
  });

  it('does not answer a multicast query that matches nothing (the 4.04 is never sent)', () => {
    expect(() => wellKnownCore(request(['rt=core.nothing'], true), interfaces)).toThrow(CoapError);
    expect(wellKnownCore(request(['rt=core.nothing'], false), interfaces)).toMatchObject({ code: '2.05', payload: '' });
  });
});
