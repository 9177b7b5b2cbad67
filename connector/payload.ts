import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { ContentFormat } from '../src/coap/types.js';

/** A payload as it travels in a frame (DESIGN.md "Wire contract" 4). */
export interface WirePayload {
  value: unknown;
  encoding?: 'base64';
}

const jsonFormats = new Set<number>([ContentFormat.json, ContentFormat.senmlJson]);
const cborFormats = new Set<number>([ContentFormat.cbor, ContentFormat.senmlCbor]);

/**
 * CoAP bytes → frame value: JSON (and SenML JSON) as JSON, text as a string, CBOR (and SenML CBOR)
 * decoded to JSON, anything else, or bytes that do not decode as their format says, as base64.
 */
export function toWire(ct: number | null | undefined, bytes: Buffer): WirePayload {
  if (bytes.length === 0) return { value: '' };
  try {
    if (ct === ContentFormat.text) return { value: bytes.toString('utf8') };
    if (ct !== null && ct !== undefined && jsonFormats.has(ct)) return { value: JSON.parse(bytes.toString('utf8')) };
    if (ct !== null && ct !== undefined && cborFormats.has(ct)) return { value: jsonSafe(decodeCbor(bytes)) };
  } catch {
    // A device that mislabels its payload still gets its bytes through, unchanged.
  }
  return base64Of(bytes);
}

/** A value the Observer decoded already (base64-encoded by it, or still bytes): as a frame carries it. */
export function valueToWire(value: unknown, encoding: 'base64' | undefined): WirePayload {
  if (value instanceof Uint8Array) return base64Of(Buffer.from(value));
  return encoding === undefined ? { value } : { value, encoding };
}

export type FromWire = { ok: true; bytes: Buffer | undefined; ct: number | undefined } | { ok: false; error: string };

/** Frame value → CoAP bytes for a command: the reverse of toWire, guided by `ct` and `encoding`. */
export function fromWire(value: unknown, ct: number | undefined, encoding: 'base64' | undefined): FromWire {
  if (value === undefined) return { ok: true, bytes: undefined, ct };
  if (encoding === 'base64') {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      return { ok: false, error: 'payload with "encoding":"base64" must be a base64 string' };
    }
    return { ok: true, bytes: Buffer.from(value, 'base64'), ct };
  }
  if (ct !== undefined && jsonFormats.has(ct)) return { ok: true, bytes: Buffer.from(JSON.stringify(value)), ct };
  if (ct !== undefined && cborFormats.has(ct)) return { ok: true, bytes: Buffer.from(encodeCbor(value)), ct };
  if (typeof value === 'string') return { ok: true, bytes: Buffer.from(value, 'utf8'), ct };
  if (ct === undefined) return { ok: true, bytes: Buffer.from(JSON.stringify(value)), ct: ContentFormat.json };
  return { ok: false, error: `payload for content-format ${ct} must be a string, or base64 with "encoding":"base64"` };
}

function base64Of(bytes: Buffer): WirePayload {
  return { value: bytes.toString('base64'), encoding: 'base64' };
}

/** CBOR has more than JSON (byte strings, undefined, maps with non-string keys): bring it down to JSON. */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
      // Buffer's toJSON has run by now; the holder still has the bytes.
      const raw = this[key];
      if (raw instanceof Uint8Array) return Buffer.from(raw).toString('base64');
      if (v instanceof Map) return Object.fromEntries(v);
      if (typeof v === 'bigint') return v.toString();
      return v;
    }) ?? 'null',
  );
}
