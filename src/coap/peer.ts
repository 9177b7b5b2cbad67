import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Peer } from './types.js';

/** RFC 4291 §2.5.5.2 IPv4-mapped IPv6 address, as a dual-stack socket reports an IPv4 peer. */
const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** `::ffff:a.b.c.d` → `a.b.c.d`: a device reached over IPv4 is an IPv4 device; any other host unchanged. */
export function unmapHost(host: string): string {
  return MAPPED_V4.exec(host)?.[1] ?? host;
}

/** A datagram source as the rest of the gateway sees it: IPv4-mapped IPv6 addresses shown as plain IPv4. */
export function peerOf(address: string, port: number): Peer {
  const host = unmapHost(address);
  if (host !== address) return { address: host, port, family: 'IPv4' };
  return { address, port, family: isIP(address) === 4 ? 'IPv4' : 'IPv6' };
}

/** One remote endpoint as a map key (RFC 7252 §4.4, §5.3.2 match exchanges by it). */
export const addressKey = (host: string, port: number): string => `${host}|${port}`;

/** The key exchanges are matched under: one remote endpoint (RFC 7252 §4.4, §5.3.2). */
export const peerKey = (peer: Peer): string => addressKey(peer.address, peer.port);

/** `host:port`, with IPv6 hosts bracketed as in a URI (RFC 3986 §3.2.2). */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves a host name or literal (brackets allowed) to a peer; literals skip DNS. */
export async function resolvePeer(host: string, port: number): Promise<Peer> {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(literal) !== 0) return peerOf(literal, port);
  const { address } = await lookup(literal);
  return peerOf(address, port);
}
