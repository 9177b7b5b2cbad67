import { encode as encodeCbor } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, formatCode, parseMethod } from '../../src/coap/content-format.js';
import { resolveSenml } from '../../src/coap/senml.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('decodePayload', () => {
  it('decodes text, JSON and CBOR', () => {
    expect(decodePayload(0, bytes('21.5 C'))).toEqual({ value: '21.5 C' });
    expect(decodePayload(50, bytes('{"on":true,"level":3}'))).toEqual({ value: { on: true, level: 3 } });
    const cbor = encodeCbor({ temp: 21.5, raw: new Uint8Array([1, 2, 3]), big: 2n ** 70n });
    expect(decodePayload(60, cbor)).toEqual({ value: { temp: 21.5, raw: 'AQID', big: '1180591620717411303424' } });
  });

  it('falls back to base64 for unknown formats and for payloads that do not decode as labelled', () => {
    expect(decodePayload(42, Buffer.from([0xde, 0xad]))).toEqual({ value: '3q0=', encoding: 'base64' });
    expect(decodePayload(undefined, bytes('x'))).toEqual({ value: 'eA==', encoding: 'base64' });
    expect(decodePayload(50, bytes('{not json'))).toEqual({
      value: Buffer.from('{not json').toString('base64'),
      encoding: 'base64',
    });
    expect(decodePayload(0, Buffer.from([0xff, 0xfe]))).toEqual({ value: '//4=', encoding: 'base64' });
    expect(decodePayload(110, bytes('{"n":"not a pack"}')).encoding).toBe('base64');
  });

  it('parses link-format (RFC 6690)', () => {
    expect(decodePayload(40, bytes('</sensors/temp>;rt="temperature";obs,</led>'))).toEqual({
      value: [
        { href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } },
        { href: '/led', attrs: {} },
      ],
    });
  });

  it('resolves SenML JSON: RFC 8428 §5.1.2 multiple data points', () => {
    const pack =
      '[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},{"n":"current","u":"A","v":1.2}]';
    expect(decodePayload(110, bytes(pack))).toEqual({
      value: [
        { n: 'urn:dev:ow:10e2073a01080063:voltage', u: 'V', v: 120.1 },
        { n: 'urn:dev:ow:10e2073a01080063:current', u: 'A', v: 1.2 },
      ],
    });
  });

  it('resolves SenML CBOR with integer labels: the RFC 8428 §6 encoding of §5.1.2', () => {
    const rfc = Buffer.from(
      '82a421781b75726e3a6465763a6f773a3130653230373361303130383030363a0067766f6c7461676501615602fb405e066666666666' +
        'a3006763757272656e74016141 02fb3ff3333333333333'.replace(/ /g, ''),
      'hex',
    );
    expect(decodePayload(112, rfc)).toEqual({
      value: [
        { n: 'urn:dev:ow:10e2073a0108006:voltage', u: 'V', v: 120.1 },
        { n: 'urn:dev:ow:10e2073a0108006:current', u: 'A', v: 1.2 },
      ],
    });
  });
});

describe('resolveSenml (RFC 8428 §4.6)', () => {
  it('applies base time, base unit and relative times: §5.1.3 multiple measurements', () => {
    const pack = [
      { bn: 'urn:dev:ow:10e2073a0108006:', bt: 1.276020076001e9, bu: 'A', bver: 5, n: 'voltage', u: 'V', v: 120.1 },
      { n: 'current', t: -5, v: 1.2 },
      { n: 'current', t: -4, v: 1.3 },
    ];
    expect(resolveSenml(pack, 'json')).toEqual([
      { n: 'urn:dev:ow:10e2073a0108006:voltage', u: 'V', v: 120.1, t: 1.276020076001e9 },
      { n: 'urn:dev:ow:10e2073a0108006:current', u: 'A', v: 1.2, t: 1.276020071001e9 },
      { n: 'urn:dev:ow:10e2073a0108006:current', u: 'A', v: 1.3, t: 1.276020072001e9 },
    ]);
  });

  it('adds base value and base sum, keeps string, boolean and data values, and makes relative times absolute', () => {
    const pack = [
      { bn: 'dev:', bv: 100, bs: 10, n: 'a', v: 1, t: -10 },
      { n: 'b', s: 5 },
      { n: 'c', vs: 'open' },
      { n: 'd', vb: false },
      { n: 'e', vd: 'AQID' },
    ];
    expect(resolveSenml(pack, 'json', 1_700_000_000)).toEqual([
      { n: 'dev:a', v: 101, t: 1_699_999_990 },
      { n: 'dev:b', s: 15, t: 1_700_000_000 },
      { n: 'dev:c', vs: 'open', t: 1_700_000_000 },
      { n: 'dev:d', vb: false, t: 1_700_000_000 },
      { n: 'dev:e', vd: 'AQID', t: 1_700_000_000 },
    ]);
  });

  it('rejects what is not SenML', () => {
    expect(() => resolveSenml({ n: 'x' }, 'json')).toThrow(/array/);
    expect(() => resolveSenml([{ v: 1 }], 'json')).toThrow(/name/);
    expect(() => resolveSenml([{ n: 'x', v: 'high' }], 'json')).toThrow(/'v'/);
  });
});

describe('encodePayload', () => {
  it('encodes JSON values for text, JSON, CBOR and SenML CBOR, and round-trips through decodePayload', () => {
    expect(encodePayload('on', 0).toString()).toBe('on');
    expect(encodePayload(42, 0).toString()).toBe('42');
    expect(encodePayload({ on: true }, 50).toString()).toBe('{"on":true}');
    expect(decodePayload(60, encodePayload({ on: true, level: [1, 2] }, 60))).toEqual({
      value: { on: true, level: [1, 2] },
    });
    const records = [{ n: 'dev:temp', u: 'Cel', v: 21.5, t: 1_700_000_000 }];
    const senmlCbor = encodePayload(records, 112);
    expect(senmlCbor.subarray(0, 2)).toEqual(Buffer.from([0x81, 0xa4]));
    expect(decodePayload(112, senmlCbor)).toEqual({ value: records });
    expect(encodePayload(Buffer.from([1, 2]), 42)).toEqual(Buffer.from([1, 2]));
  });
});

describe('formatCode / parseMethod', () => {
  it('formats codes and parses method names', () => {
    expect(formatCode(69)).toBe('2.05');
    expect(formatCode(132)).toBe('4.04');
    expect(parseMethod('put')).toBe('PUT');
    expect(parseMethod('iPATCH')).toBe('iPATCH');
    expect(parseMethod('OBSERVE')).toBeUndefined();
  });
});
