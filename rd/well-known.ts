import { formatLink } from '../src/coap/link-format.js';
import { notFound, type CoapRequest, type CoapResponse } from '../src/coap/types.js';
import type { Link } from '../src/coap/link-format.js';
import { linkFormat } from './lookup.js';
import { compileCriterion } from './match.js';
import { splitQuery } from './query.js';

/** RFC 9176 §4.3 resource types of the RD's interfaces, and the group interfaces of draft-11 §6.3. */
const INTERFACES: readonly Link[] = [
  { href: '/rd', attrs: { rt: 'core.rd', ct: '40' } },
  { href: '/rd-lookup/ep', attrs: { rt: 'core.rd-lookup-ep', ct: '40' } },
  { href: '/rd-lookup/res', attrs: { rt: 'core.rd-lookup-res', ct: '40' } },
  { href: '/rd-group', attrs: { rt: 'core.rd-group', ct: '40' } },
  { href: '/rd-lookup/gp', attrs: { rt: 'core.rd-lookup-gp', ct: '40' } },
];

/**
 * `GET /.well-known/core` (RFC 6690 §4): the RD's own links, filtered by the query
 * (`?rt=core.rd*`, `?href=/rd*`, any attribute; several filters must all hold).
 */
export function wellKnownCore(request: CoapRequest): CoapResponse {
  const criteria = splitQuery(request.query).map(compileCriterion);
  const links = INTERFACES.filter((link) =>
    criteria.every((c) => c.test(c.name === 'href' ? link.href : link.attrs[c.name])),
  );
  // RFC 6690 §4.1: a multicast query that matches nothing gets no answer (the server drops 4.xx to multicast).
  if (links.length === 0 && request.multicast) throw notFound('no matching link');
  return linkFormat(links.map(formatLink));
}
