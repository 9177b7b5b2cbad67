import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface ConnectionLimits {
  /** Open TCP connections at once, every address together. */
  maxConnections: number;
  /** Open TCP connections from one address. */
  maxConnectionsPerAddress: number;
  /** A connection that sends no complete request head for this long is closed (keep-alive idles close sooner). */
  idleTimeoutMs: number;
}

/**
 * The http server must be created with `connectionsCheckingInterval` (serverOptions), or an idle connection is
 * noticed only every 30 s. Caps the hub's connections overall and per address and closes idle ones early: 21,000 idle sockets, each
 * kept for 60 s, used up the hub's 20,000 file descriptors. A connection over a cap is closed at once, before
 * TLS or HTTP runs on it; one warning per address that reaches its cap (not one per connection).
 */
/** Options for http(s).createServer that make the header timeout bite on time. */
export function serverOptions(limits: ConnectionLimits): { connectionsCheckingInterval: number } {
  return { connectionsCheckingInterval: Math.min(1_000, limits.idleTimeoutMs) };
}

export function limitConnections(server: Server, limits: ConnectionLimits, log: Logger): void {
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.idleTimeoutMs;
  server.requestTimeout = Math.max(limits.idleTimeoutMs, 30_000);
  server.keepAliveTimeout = Math.min(5_000, limits.idleTimeoutMs);
  // No socket inactivity timeout: a command's reply may take up to maxTimeoutMs with nothing on the wire.
  const perAddress = new Map<string, number>();
  const warned = new Set<string>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '?';
    const open = (perAddress.get(address) ?? 0) + 1;
    if (open > limits.maxConnectionsPerAddress) {
      if (!warned.has(address)) {
        warned.add(address);
        log.warn({ address, limit: limits.maxConnectionsPerAddress }, 'connections refused: per-address limit reached');
      }
      socket.destroy();
      return;
    }
    perAddress.set(address, open);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else {
        perAddress.delete(address);
        warned.delete(address);
      }
    });
  });
  server.on('drop', (data?: { remoteAddress?: string }) => {
    log.debug({ address: data?.remoteAddress }, 'connection refused: hub connection limit reached');
  });
}
