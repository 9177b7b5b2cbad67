import type { ResourceType } from './model.js';

/**
 * One LwM2M resource value as the platform sees it (docs/protocol.md "LwM2M payloads"): JSON scalars for
 * strings, numbers and booleans; opaque bytes and object links as small tagged objects, since a string alone
 * could not tell them apart from a string resource.
 */
export type Lwm2mValue = string | number | boolean | { opaque: string } | { objlnk: string };

/** `{"/3/0/0": "Open Mobile Alliance", "/3/0/6/0": 1, ...}`: resources and resource instances by path. */
export type Lwm2mResources = Record<string, Lwm2mValue>;

export class Lwm2mFormatError extends Error {
  override name = 'Lwm2mFormatError';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** OMA-TS-LightweightM2M-V1_0_2 §6.4.3 / Appendix C: TLV value bytes of a resource of `type`. */
export function valueFromBytes(bytes: Buffer, type: ResourceType | undefined): Lwm2mValue {
  try {
    switch (type) {
      case 'string':
        return utf8.decode(bytes);
      case 'integer':
      case 'time':
        return integerOf(bytes, true);
      case 'unsigned':
        return integerOf(bytes, false);
      case 'float':
        if (bytes.length === 4) return bytes.readFloatBE(0);
        if (bytes.length === 8) return bytes.readDoubleBE(0);
        break;
      case 'boolean':
        if (bytes.length === 1 && bytes[0]! <= 1) return bytes[0] === 1;
        break;
      case 'objlnk':
        if (bytes.length === 4) return { objlnk: `${bytes.readUInt16BE(0)}:${bytes.readUInt16BE(2)}` };
        break;
      default:
        break;
    }
  } catch {
    // not what the model says (e.g. invalid UTF-8): the bytes themselves, below
  }
  return { opaque: bytes.toString('base64') };
}

function integerOf(bytes: Buffer, signed: boolean): number | string {
  if (![1, 2, 4, 8].includes(bytes.length)) throw new Lwm2mFormatError(`an integer is 1, 2, 4 or 8 bytes`);
  if (bytes.length === 8) {
    const big = signed ? bytes.readBigInt64BE(0) : bytes.readBigUInt64BE(0);
    return Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
  }
  return signed ? bytes.readIntBE(0, bytes.length) : bytes.readUIntBE(0, bytes.length);
}

/** A value → TLV bytes, typed by the model when it knows the resource, else by the JSON value's own type. */
export function valueToBytes(value: unknown, type: ResourceType | undefined): Buffer {
  if (typeof value === 'object' && value !== null) {
    if ('opaque' in value && typeof value.opaque === 'string') return Buffer.from(value.opaque, 'base64');
    if ('objlnk' in value && typeof value.objlnk === 'string') return objlnkBytes(value.objlnk);
    throw new Lwm2mFormatError('an object value must be {"opaque": <base64>} or {"objlnk": "<object>:<instance>"}');
  }
  if (typeof value === 'boolean') return Buffer.from([value ? 1 : 0]);
  if (typeof value === 'string') {
    if (type === 'integer' || type === 'time' || type === 'float') return valueToBytes(Number(value), type);
    return Buffer.from(value, 'utf8');
  }
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (type === 'float' || !Number.isInteger(value)) {
      const out = Buffer.alloc(8);
      out.writeDoubleBE(value);
      return out;
    }
    return integerBytes(value);
  }
  throw new Lwm2mFormatError(`cannot encode ${JSON.stringify(value)} as an LwM2M value`);
}

/** The shortest of 1, 2, 4 or 8 bytes that holds the signed integer (OMA-TS-LightweightM2M-V1_0_2 Appendix C). */
function integerBytes(value: number): Buffer {
  for (const size of [1, 2, 4]) {
    const limit = 2 ** (size * 8 - 1);
    if (value >= -limit && value < limit) {
      const out = Buffer.alloc(size);
      out.writeIntBE(value, 0, size);
      return out;
    }
  }
  const out = Buffer.alloc(8);
  out.writeBigInt64BE(BigInt(value));
  return out;
}

function objlnkBytes(text: string): Buffer {
  const match = /^([0-9]{1,5}):([0-9]{1,5})$/.exec(text);
  if (!match || Number(match[1]) > 65535 || Number(match[2]) > 65535) {
    throw new Lwm2mFormatError(`an object link is "<object>:<instance>", not ${JSON.stringify(text)}`);
  }
  const out = Buffer.alloc(4);
  out.writeUInt16BE(Number(match[1]), 0);
  out.writeUInt16BE(Number(match[2]), 2);
  return out;
}
