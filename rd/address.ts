import { formatAddress, unmapHost } from '../src/coap/peer.js';

/** Where a request came from, with IPv4-mapped IPv6 addresses already unmapped. */
export interface Source {
  host: string;
  port: number;
}

/**
 * RFC 9176 §5.3: without `base`, links resolve against the registrant's source address.
 * Zone ids never appear in the URI (RFC 9176 §6.1); the device row keeps them to reach the device.
 */
export function baseOf(source: Source): string {
  return `coap://${formatAddress(source.host.replace(/%.*$/, ''), source.port)}`;
}

const COAP_DEFAULT_PORT = 5683;

/**
 * The address a device is contacted at (docs/design.md "Addresses"): RFC 9176 §5.1 makes the base URI the
 * explicit `base` when given, the source address of the registration otherwise. Only a `coap://` base
 * names an address this gateway can send to (CoAP over UDP, no DTLS); any other scheme (`coaps`,
 * `coap+tcp`) leaves the source address in use. Host names stay names, resolved at each request.
 */
export function contactOf(base: string | undefined, source: Source): Source {
  if (base === undefined) return source;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return source;
  }
  if (url.protocol !== 'coap:' || url.hostname === '') return source;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host: unmapHost(host), port: url.port === '' ? COAP_DEFAULT_PORT : Number(url.port) };
}
