import dgram from 'node:dgram';
import net from 'node:net';

/**
 * A UDP port free right now on `address`, for peers that cannot bind port 0 themselves (libcoap's tools,
 * a config file written before a process starts) or sockets that must share one port (multicast).
 * By default free on `::` (dual-stack), so also on every IPv4 address: the gateway binds `::`, and a port free on
 * 127.0.0.1 alone was often taken on `::` while a 10,000-device fleet held most ephemeral ports.
 */
export async function freeUdpPort(address = '::'): Promise<number> {
  const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A TCP port free right now on 127.0.0.1. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
