import { describe, expect, it } from 'vitest';
import { baseOf } from '../../rd/address.js';
import { unmapHost } from '../../src/coap/peer.js';

describe('registrant addresses', () => {
  it('unmaps IPv4-mapped IPv6 sources', () => {
    expect(unmapHost('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(unmapHost('2001:db8::1')).toBe('2001:db8::1');
  });

  it('brackets IPv6 in the base and leaves zone ids out of it (RFC 9176 §6.1)', () => {
    expect(baseOf({ host: '192.0.2.7', port: 5683 })).toBe('coap://192.0.2.7:5683');
    expect(baseOf({ host: 'fe80::1%eth0', port: 61616 })).toBe('coap://[fe80::1]:61616');
  });
});
