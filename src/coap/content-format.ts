import { decode as decodeCborBytes, Encoder } from 'cbor-x';
import { parseLinkFormat } from './link-format.js';
import { decodeLwm2mJson, decodeTlv, encodeLwm2mJson, encodeTlv, senmlFromResources } from './lwm2m/index.js';
import { resolveSenml, senmlToCborLabels } from './senml.js';
import { COAP_METHODS, ContentFormat, type CoapCode, type CoapMethod } from './types.js';

/** A payload as the platform sees it (docs/design.md "Wire contract" 4): decoded, or base64 when it cannot be. */
export interface DecodedPayload {
  value: unknown;
  encoding?: 'base64';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// Plain CBOR maps and byte strings (no cbor-x record extensions, no tag 259 on Maps) that any device decodes.
// `useTag259ForMaps` exists in cbor-x 1.6 but not in its typings.
const cborOptions = { useRecords: false, mapsAsObjects: true, tagUint8Array: false, variableMapSize: true };
const cbor = new Encoder({ ...cborOptions, useTag259ForMaps: false } as typeof cborOptions);

const base64 = (payload: Buffer): DecodedPayload => ({ value: payload.toString('base64'), encoding: 'base64' });

/** CBOR carries more than JSON (byte strings, maps with any keys, bigints, dates): bring it down to JSON values. */
export function jsonSafe(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, entry]) => [String(key), jsonSafe(entry)]));
  if (typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, jsonSafe(entry)]));
  return value;
}

function decodeStrict(ct: number, payload: Buffer, path: string | undefined): unknown {
  switch (ct) {
    case ContentFormat.text:
      return utf8.decode(payload);
    case ContentFormat.json:
      return JSON.parse(utf8.decode(payload));
    case ContentFormat.cbor:
      return jsonSafe(decodeCborBytes(payload));
    case ContentFormat.senmlJson:
      return resolveSenml(JSON.parse(utf8.decode(payload)), 'json');
    case ContentFormat.senmlCbor:
      return resolveSenml(decodeCborBytes(payload), 'cbor');
    case ContentFormat.linkFormat:
      return parseLinkFormat(utf8.decode(payload));
    case ContentFormat.lwm2mTlv:
      return decodeTlv(payload, path ?? '');
    case ContentFormat.lwm2mJson:
      return decodeLwm2mJson(utf8.decode(payload), path ?? '');
    default:
      throw new Error(`no decoder for content-format ${ct}`);
  }
}

/**
 * Decodes a CoAP payload by its Content-Format: text, JSON, CBOR, SenML JSON/CBOR (resolved records,
 * RFC 8428 §4.6), link-format (RFC 6690), LwM2M TLV and LwM2M JSON (resources by path, which needs the
 * request's `path`: TLV names resources relative to it). Anything else, and anything that does not decode
 * as its format says, travels as base64.
 */
export function decodePayload(ct: number | undefined, payload: Buffer, path?: string): DecodedPayload {
  if (ct === undefined) return base64(payload);
  try {
    return { value: decodeStrict(ct, payload, path) };
  } catch {
    return base64(payload);
  }
}

/**
 * A JSON value (or bytes) → payload bytes for `ct` (text, JSON, CBOR, SenML JSON/CBOR, LwM2M TLV and JSON);
 * bytes pass unchanged. For the LwM2M formats and SenML, `value` may be resources by path
 * (`{"/3/0/14": "+02:00"}`), placed under the request's `path`.
 */
export function encodePayload(value: unknown, ct: number | undefined, path?: string): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value);
  switch (ct) {
    case ContentFormat.cbor:
      return Buffer.from(cbor.encode(value));
    case ContentFormat.senmlCbor:
      return Buffer.from(cbor.encode(senmlToCborLabels(senmlPack(value, path))));
    case ContentFormat.senmlJson:
      return Buffer.from(JSON.stringify(senmlPack(value, path)), 'utf8');
    case ContentFormat.lwm2mTlv:
      return encodeTlv(value, path ?? '');
    case ContentFormat.lwm2mJson:
      return encodeLwm2mJson(value, path ?? '');
    case ContentFormat.json:
      return Buffer.from(JSON.stringify(value), 'utf8');
    default:
      return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  }
}

/** A SenML pack as given, or one made from resources by path. */
function senmlPack(value: unknown, path: string | undefined): unknown {
  return Array.isArray(value) ? value : senmlFromResources(value, path ?? '');
}

/** `69` → `2.05` (RFC 7252 §3: class in the upper 3 bits, detail in the lower 5). */
export function formatCode(code: number): CoapCode {
  return `${code >> 5}.${String(code & 31).padStart(2, '0')}` as CoapCode;
}

/** A method name as people type it (`get`, `Put`, `ipatch`) → the CoapMethod, or undefined. */
export function parseMethod(text: string): CoapMethod | undefined {
  return COAP_METHODS.find((method) => method.toLowerCase() === text.toLowerCase());
}
