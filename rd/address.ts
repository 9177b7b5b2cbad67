import { formatAddress } from '../src/coap/peer.js';

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
