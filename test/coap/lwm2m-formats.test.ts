import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../../src/coap/content-format.js';
import { decodeLwm2mJson, decodeTlv, encodeTlv } from '../../src/coap/lwm2m/index.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/**
 * OMA-TS-LightweightM2M-V1_0_2 §6.4.3.1 "Single Object Instance Request Example": Read /3/0 of the Device
 * object answered in TLV (the same bytes Wakaama's tests/tlv_json_lwm2m_data_test.c round-trips).
 */
const DEVICE_TLV = hex(`
  C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
  C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
  C8 02 09 33 34 35 30 30 30 31 32 33
  C3 03 31 2E 30
  86 06 41 00 01 41 01 05
  88 07 08 42 00 0E D8 42 01 13 88
  87 08 41 00 7D 42 01 03 84
  C1 09 64
  C1 0A 0F
  83 0B 41 00 00
  C4 0D 51 82 42 8F
  C6 0E 2B 30 32 3A 30 30
  C1 0F 55`);

const DEVICE = {
  '/3/0/0': 'Open Mobile Alliance',
  '/3/0/1': 'Lightweight M2M Client',
  '/3/0/2': '345000123',
  '/3/0/3': '1.0',
  '/3/0/6/0': 1,
  '/3/0/6/1': 5,
  '/3/0/7/0': 3800,
  '/3/0/7/1': 5000,
  '/3/0/8/0': 125,
  '/3/0/8/1': 900,
  '/3/0/9': 100,
  '/3/0/10': 15,
  '/3/0/11/0': 0,
  '/3/0/13': 1367491215,
  '/3/0/14': '+02:00',
  '/3/0/15': 'U',
};

describe('LwM2M TLV (11542)', () => {
  it('decodes the OMA Device object example (V1_0_2 §6.4.3.1) into resources by path', () => {
    expect(decodePayload(11542, DEVICE_TLV, '/3/0')).toEqual({ value: DEVICE });
  });

  it('encodes the same resources back to the exact OMA bytes', () => {
    expect(encodeTlv(DEVICE, '/3/0').equals(DEVICE_TLV)).toBe(true);
  });

  it('decodes the OMA multiple object instance example (V1_0_2 §6.4.3.2, Access Control /2)', () => {
    const bytes = hex(`08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F
                       08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F`);
    expect(decodeTlv(bytes, '/2')).toEqual({
      '/2/0/0': 1,
      '/2/0/1': 0,
      '/2/0/2/127': 7,
      '/2/0/3': 127,
      '/2/2/0': 3,
      '/2/2/1': 0,
      '/2/2/2/127': 7,
      '/2/2/2/310': 1,
      '/2/2/3': 127,
    });
    expect(encodeTlv(decodeTlv(bytes, '/2'), '/2').equals(bytes)).toBe(true);
  });

  it('decodes a Read of one multiple-instance resource (V1_0_2 §6.4.3.3, /3/0/6)', () => {
    expect(decodeTlv(hex('86 06 41 00 01 41 01 05'), '/3/0/6')).toEqual({ '/3/0/6/0': 1, '/3/0/6/1': 5 });
  });

  it('types values by the object model: floats, booleans, object links; unknown resources as opaque', () => {
    const location = encodeTlv({ '/6/0/0': 27.986065, '/6/0/1': 86, '/6/0/5': 1367491215 }, '/6/0');
    expect(decodeTlv(location, '/6/0')).toEqual({ '/6/0/0': 27.986065, '/6/0/1': 86, '/6/0/5': 1367491215 });
    expect(decodeTlv(encodeTlv({ '/3311/0/5850': true }, '/3311/0'), '/3311/0')).toEqual({ '/3311/0/5850': true });
    expect(decodeTlv(encodeTlv({ objlnk: '3:0' }, '/3/0/22'), '/3/0/22')).toEqual({ '/3/0/22': { objlnk: '3:0' } });
    expect(decodeTlv(hex('C3 05 01 02 03'), '/31024/0')).toEqual({ '/31024/0/5': { opaque: 'AQID' } });
  });

  it('encodes a bare value for a request naming one resource, with 16-bit ids and long values', () => {
    expect(encodeTlv('+01:00', '/3/0/14').equals(hex('C6 0E 2B 30 31 3A 30 30'))).toBe(true);
    const long = 'x'.repeat(300);
    const bytes = encodeTlv({ '/3303/0/5701': long }, '/3303/0');
    expect(bytes.subarray(0, 5).equals(hex('F0 16 45 01 2C'))).toBe(true);
    expect(decodeTlv(bytes, '/3303/0')).toEqual({ '/3303/0/5701': long });
  });

  it('refuses truncated TLV and paths outside the request, and decodePayload falls back to base64', () => {
    expect(() => decodeTlv(hex('C8 00 14 4F'), '/3/0')).toThrow(/runs past/);
    expect(() => encodeTlv({ '/4/0/1': 1 }, '/3/0')).toThrow(/not a resource under \/3\/0/);
    expect(decodePayload(11542, hex('C8 00 14 4F'), '/3/0')).toEqual({ value: 'yAAUTw==', encoding: 'base64' });
    expect(decodePayload(11542, DEVICE_TLV).encoding).toBe('base64');
  });
});

describe('LwM2M JSON (11543)', () => {
  /** OMA-TS-LightweightM2M-V1_0_2 §6.4.4 example: the same Device object instance as LwM2M JSON. */
  const DEVICE_JSON = JSON.stringify({
    e: [
      { n: '0', sv: 'Open Mobile Alliance' },
      { n: '1', sv: 'Lightweight M2M Client' },
      { n: '2', sv: '345000123' },
      { n: '3', sv: '1.0' },
      { n: '6/0', v: 1 },
      { n: '6/1', v: 5 },
      { n: '7/0', v: 3800 },
      { n: '7/1', v: 5000 },
      { n: '8/0', v: 125 },
      { n: '8/1', v: 900 },
      { n: '9', v: 100 },
      { n: '10', v: 15 },
      { n: '11/0', v: 0 },
      { n: '13', v: 1367491215 },
      { n: '14', sv: '+02:00' },
      { n: '15', sv: 'U' },
    ],
  });

  it('decodes the OMA Device example relative to the request path, and with a base name', () => {
    expect(decodePayload(11543, Buffer.from(DEVICE_JSON), '/3/0')).toEqual({ value: DEVICE });
    const withBase =
      '{"bn":"/65/543/","e":[{"n":"0","sv":"LWM2M"},{"v":2015,"n":"1"},{"n":"2/0","bv":true},{"ov":"3:0","n":"3"}]}';
    expect(decodeLwm2mJson(withBase, '/65')).toEqual({
      '/65/543/0': 'LWM2M',
      '/65/543/1': 2015,
      '/65/543/2/0': true,
      '/65/543/3': { objlnk: '3:0' },
    });
  });

  it('round-trips resources through encodePayload', () => {
    const bytes = encodePayload(DEVICE, 11543, '/3/0');
    expect(JSON.parse(bytes.toString())).toMatchObject({
      bn: '/3/0/',
      e: expect.arrayContaining([{ n: '6/1', v: 5 }]),
    });
    expect(decodePayload(11543, bytes, '/3/0')).toEqual({ value: DEVICE });
  });
});

describe('SenML with LwM2M paths (110, 112)', () => {
  it('encodes resources by path as SenML records, and decodes them back as resolved records', () => {
    const resources = { '/3/0/14': '+02:00', '/3/0/9': 100, '/1/0/6': false, '/3/0/22': { objlnk: '3:0' } };
    const json = encodePayload(resources, 110, '/');
    expect(JSON.parse(json.toString())).toEqual([
      { n: '/3/0/14', vs: '+02:00' },
      { n: '/3/0/9', v: 100 },
      { n: '/1/0/6', vb: false },
      { n: '/3/0/22', vlo: '3:0' },
    ]);
    expect(decodePayload(112, encodePayload(resources, 112, '/')).value).toEqual(JSON.parse(json.toString()));
  });

  it('keeps an explicit SenML pack as given', () => {
    const pack = [{ bn: '/3303/0/', n: '5700', v: 21.5 }];
    expect(decodePayload(110, encodePayload(pack, 110, '/3303/0')).value).toEqual([{ n: '/3303/0/5700', v: 21.5 }]);
  });
});
