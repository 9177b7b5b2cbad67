import { formatLink } from '../src/coap/link-format.js';
import type { Attrs, Link, Registration } from '../src/store/types.js';

/** A registered link as resource lookup presents it (RFC 9176 §6.1): target and anchor fully resolved. */
export interface ResolvedLink {
  href: string;
  anchor: string;
  link: Link;
}

/** The registration resource's path: exactly two short segments (issue 2: RIOT, Zephyr, Wakaama). */
export function locationOf(reg: Registration): string {
  return `/rd/${reg.deviceId}`;
}

const endpointCache = new WeakMap<Registration, { attrs: Attrs; text: string }>();

/**
 * RFC 9176 §6.1: href and anchor resolve against the registration's base; a link without anchor
 * gets the base as anchor; absolute ones stay as they are. Computed per result, not stored: matching
 * on the other attributes needs the link as registered, and 50,000 resolved copies cost 25 MB.
 */
export function resolveLink(reg: Registration, link: Link): ResolvedLink {
  const anchor = typeof link.attrs.anchor === 'string' ? resolve(link.attrs.anchor, reg.base) : reg.base;
  return { href: resolve(link.href, reg.base), anchor, link };
}

/** The resolved link in RFC 6690 form, anchor last. */
export function formatResolved({ href, anchor, link }: ResolvedLink): string {
  const { anchor: _given, ...attrs } = link.attrs;
  return formatLink({ href, attrs: { ...attrs, anchor } });
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

export function resolve(reference: string, base: string): string {
  if (ABSOLUTE.test(reference)) return reference;
  try {
    return new URL(reference, base).href;
  } catch {
    return base + (reference.startsWith('/') ? reference : `/${reference}`);
  }
}
