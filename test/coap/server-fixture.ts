import { Writable } from 'node:stream';
import pino from 'pino';
import { CoapServer, type CoapServerOptions } from '../../src/coap/server.js';
import type { CoapHandler } from '../../src/coap/types.js';
import { ServerPeer } from './server-peer.js';

/** A server on an ephemeral loopback port whose log lines a test can read, and the peers talking to it. */
export interface Fixture {
  server: CoapServer;
  port: number;
  logLines: string[];
  peer(host?: string): Promise<ServerPeer>;
  close(): Promise<void>;
}

export async function startServer(
  handler: CoapHandler,
  options: Partial<Omit<CoapServerOptions, 'handler' | 'log'>> = {},
): Promise<Fixture> {
  const logLines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const server = new CoapServer({ handler, log: pino({ level: 'info' }, sink), port: 0, ...options });
  const { port } = await server.listen();
  const peers: ServerPeer[] = [];
  return {
    server,
    port,
    logLines,
    async peer(host = '127.0.0.1') {
      const peer = await ServerPeer.open(host, port);
      peers.push(peer);
      return peer;
    },
    async close() {
      await Promise.all(peers.map((peer) => peer.close()));
      await server.close();
    },
  };
}
