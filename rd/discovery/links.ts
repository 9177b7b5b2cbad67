import { parseLinkFormat } from '../../src/coap/link-format.js';
import { ContentFormat, type CoapReply } from '../../src/coap/types.js';
import type { Link } from '../../src/coap/link-format.js';

/**
 * The links of a `/.well-known/core` reply, or undefined when the reply is no usable link-format
 * document (error code, other Content-Format, bad syntax) or comes from a Resource Directory
 * (RFC 9176 §4: an RD answers discovery with `rt=core.rd*`; it is a directory, not a thing).
 */
export function thingLinks(reply: CoapReply): Link[] | undefined {
  if (reply.code !== '2.05') return undefined;
  if (reply.contentFormat !== undefined && reply.contentFormat !== ContentFormat.linkFormat) return undefined;
  let links: Link[];
  try {
    links = parseLinkFormat(reply.payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const isDirectory = links.some((link) => {
    const rt = link.attrs.rt;
    return typeof rt === 'string' && rt.split(/\s+/).some((value) => value.startsWith('core.rd'));
  });
  return isDirectory ? undefined : links;
}
