import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Peer } from './types.js';

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** A datagram source as the rest of the gateway sees it: IPv4-mapped IPv6 addresses shown as plain IPv4. */
export function peerOf(address: string, port: number): Peer {
  const v4 = MAPPED_V4.exec(address)?.[1];
  if (v4 !== undefined) return { address: v4, port, family: 'IPv4' };
  return { address, port, family: isIP(address) === 4 ? 'IPv4' : 'IPv6' };
}

/** The key exchanges are matched under: one remote endpoint (RFC 7252 §4.4, §5.3.2). */
export const peerKey = (peer: Peer): string => `${peer.address}|${peer.port}`;

/** Resolves a host name or literal (brackets allowed) to a peer; literals skip DNS. */
export async function resolvePeer(host: string, port: number): Promise<Peer> {
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(literal) !== 0) return peerOf(literal, port);
  const { address } = await lookup(literal);
  return peerOf(address, port);
}
