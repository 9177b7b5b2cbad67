import { LinkFormatError, parseLinkFormat } from '../src/coap/link-format.js';
import { badRequest, CoapError, ContentFormat, type CoapRequest } from '../src/coap/types.js';
import type { Link } from '../src/coap/link-format.js';
import { unmapHost } from '../src/coap/peer.js';
import type { Source } from './address.js';

/**
 * The link-format payload of a registration, an update or a group (RFC 9176 §5.3).
 * Content-Format must be 40; an absent one is read as link-format (RFC 7252 §5.5.1 lets the
 * recipient infer it, and small clients omit it). Anything else, text/plain included, is 4.15:
 * RFC 9176 accepts only web-link formats and this RD knows only RFC 6690.
 */
export function readLinks(request: CoapRequest, maxLinks: number): Link[] {
  if (request.contentFormat !== undefined && request.contentFormat !== ContentFormat.linkFormat) {
    throw new CoapError('4.15', 'payload must be application/link-format (40)');
  }
  let links: Link[];
  try {
    links = parseLinkFormat(request.payload.toString('utf8'));
  } catch (err) {
    if (err instanceof LinkFormatError) throw badRequest(`malformed link-format: ${err.message}`);
    throw err;
  }
  // RFC 7252 §5.9.2.9: 4.13 is for an entity larger than the server is "able or willing" to handle;
  // a registration past the configured link count is such an entity.
  if (links.length > maxLinks) throw new CoapError('4.13', `too many links (at most ${maxLinks})`);
  return links;
}

export function sourceOf(request: CoapRequest): Source {
  return { host: unmapHost(request.source.address), port: request.source.port };
}
