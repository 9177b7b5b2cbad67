import { formatLink } from '../src/coap/link-format.js';
import { notFound, type CoapRequest, type CoapResponse } from '../src/coap/types.js';
import type { Link } from '../src/coap/link-format.js';
import { linkFormat } from './lookup.js';
import { compileCriterion } from './match.js';
import { splitQuery } from './query.js';

/**
 * `GET /.well-known/core` (RFC 6690 §4): the RD's own links (its routes' resource types, RFC 9176 §4.3, and the
 * group interfaces of draft-ietf-core-resource-directory-11 §6.3), filtered by the query
 * (`?rt=core.rd*`, `?href=/rd*`, any attribute; several filters must all hold).
 */
export function wellKnownCore(request: CoapRequest, interfaces: readonly Link[]): CoapResponse {
  const criteria = splitQuery(request.query).map(compileCriterion);
  const links = interfaces.filter((link) =>
    criteria.every((c) => c.test(c.name === 'href' ? link.href : link.attrs[c.name])),
  );
  // RFC 6690 §4.1: a multicast query that matches nothing gets no answer (the server drops 4.xx to multicast).
  if (links.length === 0 && request.multicast) throw notFound('no matching link');
  return linkFormat(links.map(formatLink));
}
