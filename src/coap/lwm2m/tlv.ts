import { resourceType } from './model.js';
import { formatLwm2mPath, parseLwm2mPath, isUnder, type Lwm2mPath } from './path.js';
import { Lwm2mFormatError, valueFromBytes, valueToBytes, type Lwm2mResources } from './value.js';

/**
 * LwM2M TLV, Content-Format 11542 (OMA-TS-LightweightM2M-V1_0_2 §6.4.3, Table 10): a type byte (bits 7-6 what
 * the identifier names, bit 5 its width, bits 4-3 the length field's width, bits 2-0 a short length), the
 * identifier, the length, the value. Object Instance and Multiple Resource entries hold further TLVs.
 */
const KIND = { instance: 0b00, resourceInstance: 0b01, multipleResource: 0b10, resource: 0b11 } as const;
type Kind = keyof typeof KIND;
const KIND_OF: Kind[] = ['instance', 'resourceInstance', 'multipleResource', 'resource'];

interface Entry {
  kind: Kind;
  id: number;
  value: Buffer;
}

/** One level of TLV entries; nested levels are parsed from each entry's value. */
function parseEntries(bytes: Buffer): Entry[] {
  const entries: Entry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const type = bytes[at++]!;
    const idBytes = type & 0x20 ? 2 : 1;
    const lengthBytes = (type >> 3) & 0b11;
    if (at + idBytes + lengthBytes > bytes.length) throw new Lwm2mFormatError('TLV header runs past the payload');
    const id = bytes.readUIntBE(at, idBytes);
    at += idBytes;
    const length = lengthBytes === 0 ? type & 0b111 : bytes.readUIntBE(at, lengthBytes);
    at += lengthBytes;
    if (at + length > bytes.length) throw new Lwm2mFormatError(`TLV value of ${length} bytes runs past the payload`);
    entries.push({ kind: KIND_OF[type >> 6]!, id, value: bytes.subarray(at, at + length) });
    at += length;
  }
  return entries;
}

/**
 * TLV bytes of a response to `requestPath` → resources by absolute path. The request path says what the
 * top-level entries are under (a Read of `/3/0` may answer with resources, or with the instance that holds them).
 */
export function decodeTlv(bytes: Buffer, requestPath: string): Lwm2mResources {
  const path = parseLwm2mPath(requestPath);
  if (path === undefined || path.length === 0)
    throw new Lwm2mFormatError(`TLV needs an LwM2M request path, not ${requestPath}`);
  const out: Lwm2mResources = {};
  const objectId = path[0]!;
  const put = (at: Lwm2mPath, value: Buffer): void => {
    out[formatLwm2mPath(at)] = valueFromBytes(value, resourceType(objectId, at[2]!));
  };
  const resources = (instance: Lwm2mPath, entries: Entry[]): void => {
    for (const entry of entries) {
      if (entry.kind === 'resource') put([...instance, entry.id], entry.value);
      else if (entry.kind === 'multipleResource') {
        for (const item of parseEntries(entry.value)) {
          if (item.kind !== 'resourceInstance')
            throw new Lwm2mFormatError('a Multiple Resource holds Resource Instances');
          put([...instance, entry.id, item.id], item.value);
        }
      } else throw new Lwm2mFormatError(`unexpected ${entry.kind} TLV inside an Object Instance`);
    }
  };
  const top = parseEntries(bytes);
  for (const entry of top) {
    if (entry.kind === 'instance') resources([objectId, entry.id], parseEntries(entry.value));
    else if (entry.kind === 'resourceInstance') {
      if (path.length < 3) throw new Lwm2mFormatError('a Resource Instance TLV answers a request for a resource');
      put([...path.slice(0, 3), entry.id], entry.value);
    } else {
      if (path.length < 2) throw new Lwm2mFormatError('a Resource TLV answers a request for an instance or resource');
      resources(path.slice(0, 2), [entry]);
    }
  }
  return out;
}

function header(kind: Kind, id: number, length: number): Buffer {
  const wideId = id > 0xff;
  const lengthBytes = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  if (length > 0xffffff) throw new Lwm2mFormatError('a TLV value is at most 16 MB');
  const type = (KIND[kind] << 6) | (wideId ? 0x20 : 0) | (lengthBytes << 3) | (lengthBytes === 0 ? length : 0);
  const out = Buffer.alloc(1 + (wideId ? 2 : 1) + lengthBytes);
  out[0] = type;
  out.writeUIntBE(id, 1, wideId ? 2 : 1);
  if (lengthBytes > 0) out.writeUIntBE(length, 1 + (wideId ? 2 : 1), lengthBytes);
  return out;
}

function entry(kind: Kind, id: number, value: Buffer): Buffer {
  return Buffer.concat([header(kind, id, value.length), value]);
}

/**
 * Resources by absolute path (or one bare value for a request naming a single resource) → the TLV payload of a
 * Write or Create to `requestPath`: instances for an object, resources for an instance, one resource for a resource.
 */
export function encodeTlv(value: unknown, requestPath: string): Buffer {
  const path = parseLwm2mPath(requestPath);
  if (path === undefined || path.length === 0)
    throw new Lwm2mFormatError(`TLV needs an LwM2M request path, not ${requestPath}`);
  const resources = resourcesOf(value, path);
  // instance → resource → [resource instance id | null for a single value, bytes]
  const tree = new Map<number, Map<number, Array<[number | null, Buffer]>>>();
  for (const [key, item] of Object.entries(resources)) {
    const at = parseLwm2mPath(key);
    if (at === undefined || at.length < 3 || !isUnder(at, path)) {
      throw new Lwm2mFormatError(`${key} is not a resource under ${formatLwm2mPath(path)}`);
    }
    const [, instance, resource, resourceInstance] = at as [number, number, number, number | undefined];
    const byResource = tree.get(instance) ?? new Map<number, Array<[number | null, Buffer]>>();
    tree.set(instance, byResource);
    const values = byResource.get(resource) ?? [];
    byResource.set(resource, values);
    values.push([resourceInstance ?? null, valueToBytes(item, resourceType(path[0]!, resource))]);
  }
  const resourceTlv = (id: number, values: Array<[number | null, Buffer]>): Buffer =>
    values.length === 1 && values[0]![0] === null
      ? entry('resource', id, values[0]![1])
      : entry(
          'multipleResource',
          id,
          Buffer.concat(values.map(([instanceId, bytes]) => entry('resourceInstance', instanceId ?? 0, bytes))),
        );
  const instanceBody = (byResource: Map<number, Array<[number | null, Buffer]>>): Buffer =>
    Buffer.concat([...byResource].map(([id, values]) => resourceTlv(id, values)));
  if (path.length === 1) return Buffer.concat([...tree].map(([id, body]) => entry('instance', id, instanceBody(body))));
  const body = tree.get(path[1]!) ?? new Map();
  if (path.length === 2) return instanceBody(body);
  const values = body.get(path[2]!) ?? [];
  if (path.length === 3) return resourceTlv(path[2]!, values);
  return entry('resourceInstance', path[3]!, values[0]?.[1] ?? Buffer.alloc(0));
}

/** A payload for a request naming one resource (or resource instance) may be its bare value. */
export function resourcesOf(value: unknown, path: Lwm2mPath): Lwm2mResources {
  const bare = typeof value !== 'object' || value === null || 'opaque' in value || 'objlnk' in value;
  if (bare) {
    if (path.length < 3) throw new Lwm2mFormatError('a bare value needs a request path naming a resource');
    return { [formatLwm2mPath(path)]: value as Lwm2mResources[string] };
  }
  if (Array.isArray(value)) throw new Lwm2mFormatError('LwM2M resources are an object of path → value');
  return value as Lwm2mResources;
}
