import dgram, { type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log.js';

const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export function bindSocket(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** `::%eth0` or `fe80::1%eth0` → `%eth0`: the zone an IPv6 group is bound in. */
const zoneOf = (iface: string | undefined): string => (iface?.includes('%') ? iface.slice(iface.indexOf('%')) : '');

/**
 * A socket bound to one multicast group on the server's port, joined on each interface given (the
 * system's default when none). Bound to the group address itself, so it receives that group's
 * datagrams only. A group that cannot be joined (an IPv6 link-local group without a zone, an
 * interface without multicast) is logged and skipped: the server still serves unicast.
 */
export async function openGroupSocket(
  group: string,
  interfaces: Array<string | undefined>,
  port: number,
  log: Logger,
  onMessage: (data: Buffer, remote: RemoteInfo) => void,
): Promise<Socket | undefined> {
  const socket = dgram.createSocket({ type: isIPv6(group) ? 'udp6' : 'udp4', reuseAddr: true });
  try {
    await bindSocket(socket, port, isIPv6(group) ? `${group}${zoneOf(interfaces[0])}` : group);
    for (const iface of interfaces) socket.addMembership(group, iface);
  } catch (err) {
    log.warn({ err, group, interfaces }, 'cannot join multicast group; serving unicast only on it');
    socket.close();
    return undefined;
  }
  socket.on('error', (err) => log.warn({ err, group }, 'coap multicast socket error'));
  socket.on('message', onMessage);
  return socket;
}

/**
 * Replies go to addresses the socket reported, always IP literals: hand them straight back instead of
 * dns.lookup, which costs every send an IPv6 regex and a deferred tick.
 */
export function literalLookup(
  address: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** Bursts of thousands of requests must not overflow the kernel's default ~200 KB receive queue. */
export function tuneBuffers(socket: Socket): void {
  try {
    socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
    socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
  } catch {
    // Capped by net.core.rmem_max; the default still works, with drops under bursts.
  }
}
