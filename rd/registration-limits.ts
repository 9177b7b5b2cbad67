import { badRequest, CoapError } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { Attrs, Link } from '../src/coap/link-format.js';
import type { RegistrationParams } from './query.js';

/**
 * Bytes a registration may hold: the name, the sector, each attribute, the attributes per registration
 * and the registration as a whole. Counting registrations and links alone let 10,000 registrations with
 * 60 one-kilobyte attributes each take 630 MB of database and 1.4 GB of memory after a restart.
 */
export type ByteLimits = Pick<
  RdConfig['limits'],
  'maxEpBytes' | 'maxSectorBytes' | 'maxAttributeBytes' | 'maxAttributesPerRegistration' | 'maxRegistrationBytes'
>;

/**
 * Control characters (C0, DEL, C1) cannot be written in a link-format value: RFC 6690 §2 quotes values as
 * RFC 2616 quoted-strings, whose qdtext excludes CTLs. A registration that carries them is refused rather
 * than echoed raw into every lookup.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** RFC 9176 §9.3: ep and d are at most 63 bytes of UTF-8 (the default limits); printable text only. */
function checkName(name: 'ep' | 'd', value: string | undefined, max: number): void {
  if (value === undefined) return;
  if (bytes(value) > max) throw badRequest(`${name} longer than ${max} bytes`);
  if (CONTROL.test(value)) throw badRequest(`${name} contains a control character`);
}

function checkAttrs(attrs: Attrs, limits: ByteLimits, where: string): void {
  for (const [name, value] of Object.entries(attrs)) {
    const size = bytes(name) + (value === true ? 0 : bytes(value));
    if (size > limits.maxAttributeBytes) {
      throw new CoapError(
        '4.13',
        `${where} attribute '${name.slice(0, 32)}' longer than ${limits.maxAttributeBytes} bytes`,
      );
    }
    if (CONTROL.test(name) || (value !== true && CONTROL.test(value))) {
      throw badRequest(`${where} attribute '${name.slice(0, 32)}' contains a control character`);
    }
  }
}

/** The parameters of a registration or an update, checked against the limits before anything is stored. */
export function checkParams(params: RegistrationParams, limits: ByteLimits): void {
  checkName('ep', params.ep, limits.maxEpBytes);
  checkName('d', params.d, limits.maxSectorBytes);
  if (params.et !== undefined) checkAttrs({ et: params.et }, limits, 'endpoint');
  const count = Object.keys(params.extra).length;
  if (count > limits.maxAttributesPerRegistration) {
    throw new CoapError('4.13', `too many attributes (at most ${limits.maxAttributesPerRegistration})`);
  }
  checkAttrs(params.extra, limits, 'endpoint');
}

/**
 * An absolute target or anchor must be a URI a client can use: `<coap://[::1]:99999/x>` names no port
 * (RFC 3986 §3.2.3 port is a decimal TCP/UDP port, 0..65535). Relative references resolve against base.
 */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
function checkReference(what: string, reference: string): void {
  if (!ABSOLUTE.test(reference)) return;
  try {
    new URL(reference);
  } catch {
    throw badRequest(`${what} '${reference.slice(0, 64)}' is not a valid URI`);
  }
}

export function checkLinks(links: readonly Link[], limits: ByteLimits): void {
  for (const link of links) {
    checkReference('link target', link.href);
    if (typeof link.attrs.anchor === 'string') checkReference('anchor', link.attrs.anchor);
    checkAttrs(link.attrs, limits, 'link');
  }
}

/** What a registration's own text costs to hold: name, sector, base, et, attributes and links. */
export interface Sized {
  ep: string;
  d: string | null;
  base: string;
  et: string | null;
  attrs: Attrs;
  links: readonly Link[];
}

const attrBytes = (attrs: Attrs): number => {
  let total = 0;
  for (const [name, value] of Object.entries(attrs)) total += bytes(name) + (value === true ? 0 : bytes(value));
  return total;
};

export function registrationBytes(reg: Sized): number {
  let total = bytes(reg.ep) + bytes(reg.d ?? '') + bytes(reg.base) + bytes(reg.et ?? '') + attrBytes(reg.attrs);
  for (const link of reg.links) total += bytes(link.href) + attrBytes(link.attrs);
  return total;
}
