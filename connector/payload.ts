import { decodePayload, encodePayload, type DecodedPayload } from '../src/coap/content-format.js';
import { ContentFormat } from '../src/coap/types.js';

/** A payload as it travels in a frame (docs/design.md "Wire contract" 4). */
export type WirePayload = DecodedPayload;

/**
 * CoAP bytes → frame value by Content-Format (src/coap/content-format.ts: JSON as JSON, text as a string,
 * CBOR and SenML decoded to JSON, LwM2M TLV and JSON as resources by path under the request `path`, anything
 * else as base64). An empty payload is `""`, whatever its format.
 */
export function toWire(ct: number | null | undefined, bytes: Buffer, path?: string): WirePayload {
  if (bytes.length === 0) return { value: '' };
  return decodePayload(ct ?? undefined, bytes, path);
}

/** A value the Observer decoded already (base64-encoded by it, or still bytes): as a frame carries it. */
export function valueToWire(value: unknown, encoding: 'base64' | undefined): WirePayload {
  if (value instanceof Uint8Array) return { value: Buffer.from(value).toString('base64'), encoding: 'base64' };
  return encoding === undefined ? { value } : { value, encoding };
}

export type FromWire = { ok: true; bytes: Buffer | undefined; ct: number | undefined } | { ok: false; error: string };

/**
 * Frame value → CoAP bytes for a command: base64 as its exact bytes, otherwise encoded for `ct`;
 * a value that is not a string and comes with no `ct` is sent as JSON with ct 50.
 */
export function fromWire(
  value: unknown,
  ct: number | undefined,
  encoding: 'base64' | undefined,
  path?: string,
): FromWire {
  if (value === undefined) return { ok: true, bytes: undefined, ct };
  if (encoding === 'base64') {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      return { ok: false, error: 'payload with "encoding":"base64" must be a base64 string' };
    }
    return { ok: true, bytes: Buffer.from(value, 'base64'), ct };
  }
  const sentCt = ct ?? (typeof value === 'string' ? undefined : ContentFormat.json);
  try {
    return { ok: true, bytes: encodePayload(value, sentCt, path), ct: sentCt };
  } catch (err) {
    return { ok: false, error: `payload cannot be encoded for content-format ${sentCt}: ${(err as Error).message}` };
  }
}
