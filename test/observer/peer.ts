import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';

export interface PeerRequest {
  path: string;
  observe: number | undefined;
}

export type PeerHandler = (req: IncomingMessage, res: OutgoingMessage, observe: number | undefined) => void;

/**
 * A CoAP server (the `coap` package) with hand-written resources, for behaviour the simulated
 * thing does not have: content formats it never sends, a device that stops taking observers.
 */
export class Peer {
  readonly requests: PeerRequest[] = [];
  private readonly server: Server;

  constructor(handlers: Record<string, PeerHandler>) {
    // The package sets SO_REUSEADDR by default, with which a port-0 bind can land on a port another server holds.
    this.server = createServer({ type: 'udp4', reuseAddr: false }, (req: IncomingMessage, res: OutgoingMessage) => {
      const path = req.url.split('?')[0]!;
      const observe = typeof req.headers.Observe === 'number' ? req.headers.Observe : undefined;
      this.requests.push({ path, observe });
      const handler = handlers[path];
      if (handler) handler(req, res, observe);
      else {
        res.code = '4.04';
        res.end();
      }
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return this;
  }

  get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: (this.server._sock as { address(): { port: number } }).address().port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Replies once with a body and Content-Format (and Max-Age when given). */
export function reply(res: OutgoingMessage, contentFormat: number, body: Buffer | string, maxAge?: number): void {
  res.code = '2.05';
  res.setOption('Content-Format', contentFormat);
  if (maxAge !== undefined) res.setOption('Max-Age', maxAge);
  res.end(body);
}
