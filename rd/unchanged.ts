import type { Registration } from '../src/store/types.js';

/** What a registration holds as text: what lookups show and what its bytes are counted from. */
type RegistrationText = Pick<Registration, 'ep' | 'd' | 'base' | 'et' | 'attrs' | 'links'>;
import type { Attrs, Link } from '../src/coap/link-format.js';

/**
 * What a change leaves as it was. A re-registration (RFC 9176 §5.3) usually repeats the links it sent
 * before: keeping the objects already held, rather than the freshly parsed copies, means the store writes
 * no links, the index is not touched and the copies die young instead of as old-space garbage.
 */
export function keptLinks(previous: readonly Link[] | undefined, next: Link[]): readonly Link[] {
  return previous !== undefined && sameLinks(previous, next) ? previous : next;
}

export function keptAttrs(previous: Attrs | undefined, next: Attrs): Attrs {
  return previous !== undefined && sameAttrs(previous, next) ? previous : next;
}

/** Equal as lookups present them (RFC 9176 §6: lt and timestamps are not shown). */
export function looksTheSame(a: RegistrationText, b: RegistrationText): boolean {
  if (a.ep !== b.ep || a.d !== b.d || a.base !== b.base || a.et !== b.et || a.links !== b.links) return false;
  return sameAttrs(a.attrs, b.attrs);
}

function sameLinks(a: readonly Link[], b: readonly Link[]): boolean {
  return a.length === b.length && a.every((link, i) => link.href === b[i]!.href && sameAttrs(link.attrs, b[i]!.attrs));
}

function sameAttrs(a: Attrs, b: Attrs): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
