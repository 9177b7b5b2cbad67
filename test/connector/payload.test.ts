import { encode as encodeCbor } from 'cbor-x';
import { describe, expect, test } from 'vitest';
import { Backoff } from '../../connector/backoff.js';
import { fromWire, toWire, valueToWire } from '../../connector/payload.js';

describe('CoAP payload → frame (docs/design.md "Wire contract" 4)', () => {
  test.each([
    ['JSON travels as JSON', 50, Buffer.from('{"t":21.5}'), { value: { t: 21.5 } }],
    ['SenML JSON as JSON', 110, Buffer.from('[{"n":"h","v":45}]'), { value: [{ n: 'h', v: 45 }] }],
    ['text as a string', 0, Buffer.from('héllo'), { value: 'héllo' }],
    ['CBOR decoded to JSON', 60, Buffer.from(encodeCbor({ a: [1, 2] })), { value: { a: [1, 2] } }],
    ['CBOR byte strings as base64', 60, Buffer.from(encodeCbor({ b: Buffer.from([1, 2]) })), { value: { b: 'AQI=' } }],
    ['SenML CBOR as JSON', 112, Buffer.from(encodeCbor([{ n: 't', v: 1 }])), { value: [{ n: 't', v: 1 }] }],
    ['an octet stream as base64', 42, Buffer.from([0, 255]), { value: 'AP8=', encoding: 'base64' }],
    ['no Content-Format as base64', null, Buffer.from('x'), { value: 'eA==', encoding: 'base64' }],
    ['JSON that is not JSON as base64', 50, Buffer.from('{oops'), { value: 'e29vcHM=', encoding: 'base64' }],
    ['an empty payload as ""', 50, Buffer.alloc(0), { value: '' }],
  ])('%s', (_name, ct, bytes, expected) => {
    expect(toWire(ct, bytes)).toEqual(expected);
  });

  test("an Observer's bytes become base64; its own base64 keeps its flag", () => {
    expect(valueToWire(Buffer.from([1, 2, 255]), undefined)).toEqual({ value: 'AQL/', encoding: 'base64' });
    expect(valueToWire('AQL/', 'base64')).toEqual({ value: 'AQL/', encoding: 'base64' });
    expect(valueToWire({ t: 1 }, undefined)).toEqual({ value: { t: 1 } });
  });
});

describe('frame → CoAP payload for a command', () => {
  const hex = (text: string): string => Buffer.from(text).toString('hex');
  test.each([
    ['JSON by ct 50', { on: true }, 50, undefined, hex('{"on":true}'), 50],
    ['CBOR by ct 60, as a plain map (RFC 8949 §3.1 major type 5)', { a: 1 }, 60, undefined, 'a1616101', 60],
    ['a string as UTF-8 text', 'on', 0, undefined, hex('on'), 0],
    ['a string with no ct stays without one', 'on', undefined, undefined, hex('on'), undefined],
    ['a value with no ct as JSON with ct 50', [1, 2], undefined, undefined, hex('[1,2]'), 50],
    ['base64 as its bytes', 'AP8=', 42, 'base64', '00ff', 42],
  ] as const)('%s', (_name, value, ct, encoding, bytes, outCt) => {
    const result = fromWire(value, ct, encoding);
    expect(result).toEqual({ ok: true, bytes: Buffer.from(bytes, 'hex'), ct: outCt });
  });

  test('no payload stays none', () => {
    expect(fromWire(undefined, 50, undefined)).toEqual({ ok: true, bytes: undefined, ct: 50 });
  });

  test.each([
    ['base64 that is not', 'no spaces allowed', 42, 'base64'],
    ['base64 that is not a string', 12, 42, 'base64'],
  ] as const)('refuses %s', (_name, value, ct, encoding) => {
    expect(fromWire(value, ct, encoding).ok).toBe(false);
  });
});

describe('reconnect backoff', () => {
  test('full jitter under a ceiling that doubles from min to max', () => {
    const top = new Backoff(100, 1000, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const bottom = new Backoff(100, 1000, () => 0);
    expect([1, 2, 3].map(() => bottom.next())).toEqual([100, 100, 100]);
  });

  test('reset starts over; exhaust goes straight to the ceiling', () => {
    const backoff = new Backoff(100, 1000, () => 1);
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(100);
    backoff.exhaust();
    expect(backoff.next()).toBe(1000);
  });
});
