import type { Registration } from '../src/store/types.js';
import type { Attrs, Link } from '../src/coap/link-format.js';
import { sameAttrs, sameLinks } from '../src/coap/shared-links.js';

/** What a registration holds as text: what lookups show and what its bytes are counted from. */
type RegistrationText = Pick<Registration, 'ep' | 'd' | 'base' | 'et' | 'attrs' | 'links'>;

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
