import { formatLwm2mPath, isUnder, parseLwm2mPath } from './path.js';
import { resourcesOf } from './tlv.js';
import { Lwm2mFormatError, type Lwm2mResources, type Lwm2mValue } from './value.js';

/**
 * LwM2M JSON, Content-Format 11543 (OMA-TS-LightweightM2M-V1_0_2 §6.4.4, Table 20): `{"bn", "bt", "e": [{"n",
 * "v" | "sv" | "bv" | "ov", "t"}]}`; a name is relative to the base name, or, without one, to the request path.
 */
export function decodeLwm2mJson(text: string, requestPath: string): Lwm2mResources {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Lwm2mFormatError('LwM2M JSON is an object with an "e" array');
  }
  const { bn, e } = doc as { bn?: unknown; e?: unknown };
  if (!Array.isArray(e)) throw new Lwm2mFormatError('LwM2M JSON needs an "e" array');
  if (bn !== undefined && typeof bn !== 'string') throw new Lwm2mFormatError('"bn" must be a string');
  const base = bn ?? `${requestPath.replace(/\/+$/, '')}/`;
  const out: Lwm2mResources = {};
  for (const item of e as unknown[]) {
    if (typeof item !== 'object' || item === null) throw new Lwm2mFormatError('an "e" entry is an object');
    const record = item as Record<string, unknown>;
    const name = typeof record.n === 'string' ? record.n : '';
    const path = parseLwm2mPath(`${base}/${name}`.replace(/\/{2,}/g, '/'));
    if (path === undefined || path.length < 3) throw new Lwm2mFormatError(`"${base}${name}" is not a resource path`);
    out[formatLwm2mPath(path)] = entryValue(record);
  }
  return out;
}

function entryValue(record: Record<string, unknown>): Lwm2mValue {
  if (typeof record.v === 'number') return record.v;
  if (typeof record.sv === 'string') return record.sv;
  if (typeof record.bv === 'boolean') return record.bv;
  if (typeof record.ov === 'string') return { objlnk: record.ov };
  throw new Lwm2mFormatError('an "e" entry needs one of v, sv, bv, ov');
}

/** Resources by path (or a bare value for a single resource) → LwM2M JSON with the request path as base name. */
export function encodeLwm2mJson(value: unknown, requestPath: string): Buffer {
  const path = parseLwm2mPath(requestPath);
  if (path === undefined || path.length === 0) {
    throw new Lwm2mFormatError(`LwM2M JSON needs an LwM2M request path, not ${requestPath}`);
  }
  const base = `${formatLwm2mPath(path)}/`;
  const e = Object.entries(resourcesOf(value, path)).map(([key, item]) => {
    const at = parseLwm2mPath(key);
    if (at === undefined || at.length < 3 || !isUnder(at, path)) {
      throw new Lwm2mFormatError(`${key} is not a resource under ${formatLwm2mPath(path)}`);
    }
    const n = at.slice(path.length).join('/');
    return { ...(n !== '' && { n }), ...entryOf(item) };
  });
  return Buffer.from(JSON.stringify({ bn: base, e }), 'utf8');
}

function entryOf(value: Lwm2mValue): Record<string, unknown> {
  if (typeof value === 'number') return { v: value };
  if (typeof value === 'boolean') return { bv: value };
  if (typeof value === 'string') return { sv: value };
  // LwM2M 1.0 JSON has no opaque field: OMA-TS-LightweightM2M-V1_0_2 §6.4.4 carries opaque as base64 in "sv".
  if ('opaque' in value) return { sv: value.opaque };
  if ('objlnk' in value) return { ov: value.objlnk };
  throw new Lwm2mFormatError(`cannot encode ${JSON.stringify(value)} as LwM2M JSON`);
}
