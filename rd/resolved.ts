import { formatLink } from '../src/coap/link-format.js';
import type { Registration } from '../src/store/types.js';
import type { Attrs, Link } from '../src/coap/link-format.js';

/** A registered link as resource lookup presents it (RFC 9176 §6.1): target and anchor fully resolved. */
export interface ResolvedLink {
  href: string;
  anchor: string;
  link: Link;
}

/** The registration resource's path: exactly two short segments (docs/design.md "Registration location": RIOT, Zephyr, Wakaama). */
export function locationOf(reg: Registration): string {
  return `/rd/${reg.deviceId}`;
}

const endpointCache = new WeakMap<Registration, { attrs: Attrs; text: string }>();
const textCache = new WeakMap<Registration, string[]>();

/**
 * A registration replaced by one that looks the same (a lifetime refresh) hands over what was rendered of it,
 * so lookups after every refresh do not render the same text again and the old copy is not left as garbage.
 */
export function keepRenderings(previous: Registration, next: Registration): void {
  const endpoint = endpointCache.get(previous);
  if (endpoint) endpointCache.set(next, endpoint);
  const texts = textCache.get(previous);
  if (texts) textCache.set(next, texts);
}

/**
 * RFC 9176 §6.1: href and anchor resolve against the registration's base; a link without anchor
 * gets the base as anchor; absolute ones stay as they are. Computed when a result needs it, not for
 * every registered link: matching on the other attributes needs the link as registered, and
 * 50,000 resolved copies cost 25 MB.
 */
export function resolveLink(reg: Registration, link: Link): ResolvedLink {
  const anchor = typeof link.attrs.anchor === 'string' ? resolve(link.attrs.anchor, reg.base) : reg.base;
  return { href: resolve(link.href, reg.base), anchor, link };
}

/**
 * Link `index` of a registration as resource lookup returns it, in RFC 6690 form with the anchor last.
 * Kept once rendered (registrations are immutable values): repeated lookups return the same few links.
 */
export function resolvedText(reg: Registration, index: number): string {
  let texts = textCache.get(reg);
  if (!texts) textCache.set(reg, (texts = []));
  let text = texts[index];
  if (text === undefined) {
    const { href, anchor, link } = resolveLink(reg, reg.links[index]!);
    const { anchor: _given, ...attrs } = link.attrs;
    text = texts[index] = formatLink({ href, attrs: { ...attrs, anchor } });
  }
  return text;
}

/**
 * RFC 9176 §6.3: the endpoint link carries ep, d, base, et, the extra endpoint attributes,
 * and rt="core.rd-ep"; the lifetime is not reported. Registrations are immutable values, so
 * it is built once per registration (endpoint-level criteria read its attributes).
 */
export function endpointLink(reg: Registration): { attrs: Attrs; text: string } {
  let cached = endpointCache.get(reg);
  if (!cached) {
    const attrs: Attrs = { base: reg.base, ep: reg.ep };
    if (reg.d !== null) attrs.d = reg.d;
    if (reg.et !== null) attrs.et = reg.et;
    Object.assign(attrs, reg.attrs, { ct: '40', rt: 'core.rd-ep' });
    cached = { attrs, text: formatLink({ href: locationOf(reg), attrs }) };
    endpointCache.set(reg, cached);
  }
  return cached;
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** A base of scheme and authority only, the usual `coap://host:port`. */
const AUTHORITY_ONLY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*$/;
/** A path-absolute reference without dot segments, query or fragment: it appends to such a base as is. */
const PLAIN_PATH = /^(?!\/\/)(?![^?#]*\/\.\.?(?:\/|$))\/[^?#]*$/;

export function resolve(reference: string, base: string): string {
  if (ABSOLUTE.test(reference)) return reference;
  // RFC 3986 §5.2 gives exactly this for the common case; the URL parser is for the rest.
  if (PLAIN_PATH.test(reference) && AUTHORITY_ONLY.test(base)) return base + reference;
  try {
    return new URL(reference, base).href;
  } catch {
    return base + (reference.startsWith('/') ? reference : `/${reference}`);
  }
}
