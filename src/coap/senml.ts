/** A resolved SenML record (RFC 8428 §4.6): full name, absolute time, exactly one value (or a sum). */
export interface SenmlRecord {
  n: string;
  t?: number;
  u?: string;
  v?: number;
  vs?: string;
  vb?: boolean;
  /** Data value as base64url, as SenML JSON carries it (RFC 8428 §4.3). */
  vd?: string;
  s?: number;
  ut?: number;
  /** LwM2M object link `"<object>:<instance>"` (OMA-TS-LightweightM2M_Core-V1_1 §7.4.4). */
  vlo?: string;
}

/** RFC 8428 §6 Table 6: CBOR integer labels of the SenML fields. */
const CBOR_LABELS: Record<string, string> = {
  '-1': 'bver',
  '-2': 'bn',
  '-3': 'bt',
  '-4': 'bu',
  '-5': 'bv',
  '-6': 'bs',
  '0': 'n',
  '1': 'u',
  '2': 'v',
  '3': 'vs',
  '4': 'vb',
  '5': 's',
  '6': 't',
  '7': 'ut',
  '8': 'vd',
};
const LABELS_BY_NAME = Object.fromEntries(Object.entries(CBOR_LABELS).map(([label, name]) => [name, Number(label)]));

// RFC 8428 §4.5.3: times below 2^28 are relative to now (in seconds).
const RELATIVE_TIME_LIMIT = 2 ** 28;

export class SenmlError extends Error {
  override name = 'SenmlError';
}

type Fields = Record<string, unknown>;

function fieldsOf(record: unknown, source: 'json' | 'cbor'): Fields {
  const entries =
    record instanceof Map
      ? [...record]
      : typeof record === 'object' && record !== null
        ? Object.entries(record)
        : undefined;
  if (entries === undefined || Array.isArray(record)) throw new SenmlError('a SenML record must be a map');
  return Object.fromEntries(
    entries.map(([key, value]) => [source === 'cbor' ? (CBOR_LABELS[String(key)] ?? String(key)) : String(key), value]),
  );
}

function optional<T>(fields: Fields, name: string, type: 'number' | 'string' | 'boolean'): T | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== type) throw new SenmlError(`SenML field '${name}' must be a ${type}`);
  return value as T;
}

/**
 * Resolves a SenML pack (RFC 8428 §4.6): base name, time, unit, value and sum are applied to every record
 * that follows them, relative times become absolute (seconds since the epoch). Throws SenmlError when the pack
 * is not SenML.
 */
export function resolveSenml(pack: unknown, source: 'json' | 'cbor', nowSeconds = Date.now() / 1000): SenmlRecord[] {
  if (!Array.isArray(pack)) throw new SenmlError('a SenML pack must be an array');
  let bn = '';
  let bt = 0;
  let bu: string | undefined;
  let bv: number | undefined;
  let bs: number | undefined;
  let timed = false;
  return pack.map((raw): SenmlRecord => {
    const fields = fieldsOf(raw, source);
    bn = optional<string>(fields, 'bn', 'string') ?? bn;
    bt = optional<number>(fields, 'bt', 'number') ?? bt;
    bu = optional<string>(fields, 'bu', 'string') ?? bu;
    bv = optional<number>(fields, 'bv', 'number') ?? bv;
    bs = optional<number>(fields, 'bs', 'number') ?? bs;
    const record: SenmlRecord = { n: bn + (optional<string>(fields, 'n', 'string') ?? '') };
    if (record.n === '') throw new SenmlError('a SenML record needs a name (n or bn)');
    const t = optional<number>(fields, 't', 'number');
    timed ||= t !== undefined || fields.bt !== undefined;
    if (timed) {
      const time = bt + (t ?? 0);
      record.t = time < RELATIVE_TIME_LIMIT ? nowSeconds + time : time;
    }
    const u = optional<string>(fields, 'u', 'string') ?? bu;
    if (u !== undefined) record.u = u;
    const v = optional<number>(fields, 'v', 'number');
    const vs = optional<string>(fields, 'vs', 'string');
    const vb = optional<boolean>(fields, 'vb', 'boolean');
    const vd = dataValue(fields.vd);
    const s = optional<number>(fields, 's', 'number');
    const vlo = optional<string>(fields, 'vlo', 'string');
    if (v !== undefined) record.v = (bv ?? 0) + v;
    else if (vs !== undefined) record.vs = vs;
    else if (vb !== undefined) record.vb = vb;
    else if (vd !== undefined) record.vd = vd;
    else if (vlo !== undefined) record.vlo = vlo;
    else if (bv !== undefined && s === undefined) record.v = bv;
    if (s !== undefined) record.s = (bs ?? 0) + s;
    const ut = optional<number>(fields, 'ut', 'number');
    if (ut !== undefined) record.ut = ut;
    return record;
  });
}

/** SenML CBOR carries vd as a byte string, SenML JSON as base64url text (RFC 8428 §4.3, §6). */
function dataValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64url');
  if (typeof value === 'string') return value;
  throw new SenmlError("SenML field 'vd' must be data");
}

/** Records with field names → records with the integer labels of SenML CBOR (RFC 8428 §6). */
export function senmlToCborLabels(pack: unknown): unknown {
  if (!Array.isArray(pack)) return pack;
  return pack.map((record) =>
    typeof record === 'object' && record !== null
      ? new Map(
          Object.entries(record).map(([name, value]) => [
            LABELS_BY_NAME[name] ?? name,
            name === 'vd' && typeof value === 'string' ? Buffer.from(value, 'base64url') : value,
          ]),
        )
      : record,
  );
}
