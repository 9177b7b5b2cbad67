import { describe, expect, it } from 'vitest';
import { resolve } from '../../rd/resolved.js';

describe('resolving link references against a registration base (RFC 3986 §5.2, RFC 9176 §6.1)', () => {
  const cases: Array<[string, string, string]> = [
    ['/temp', 'coap://[2001:db8::1]:61616', 'coap://[2001:db8::1]:61616/temp'],
    ['/a/b', 'coap://192.0.2.1', 'coap://192.0.2.1/a/b'],
    ['/a/../b', 'coap://192.0.2.1:5683', 'coap://192.0.2.1:5683/b'],
    ['/a/./b', 'coap://192.0.2.1:5683', 'coap://192.0.2.1:5683/a/b'],
    ['temp', 'coap://192.0.2.1:5683', 'coap://192.0.2.1:5683/temp'],
    ['', 'coap://192.0.2.1:5683', 'coap://192.0.2.1:5683'],
    ['/t', 'coaps://proxy.example.com:5684/p/', 'coaps://proxy.example.com:5684/t'],
    ['t', 'coaps://proxy.example.com:5684/p/', 'coaps://proxy.example.com:5684/p/t'],
    ['http://www.example.com/x', 'coap://192.0.2.1', 'http://www.example.com/x'],
    ['/q?x=1', 'coap://192.0.2.1', 'coap://192.0.2.1/q?x=1'],
  ];
  for (const [reference, base, expected] of cases) {
    it(`<${reference}> against ${base}`, () => {
      expect(resolve(reference, base)).toBe(expected);
    });
  }
});
