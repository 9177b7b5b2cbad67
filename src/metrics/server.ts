import http from 'node:http';
import type { Logger } from 'pino';
import type { OperatorRoutes } from './routes.js';

/**
 * The gateway's own small HTTP listener for /metrics, /healthz and /readyz, for a gateway whose hub runs
 * elsewhere (with an embedded hub, the hub's port serves them). Nothing else is served on it.
 */
export class MetricsServer {
  private server: http.Server | undefined;

  constructor(private readonly options: { host: string; port: number; routes: OperatorRoutes; log: Logger }) {}

  async start(): Promise<{ port: number }> {
    const { routes, log } = this.options;
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://gateway');
      routes(req, res, url).then(
        (handled) => {
          if (handled) return;
          res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify({ error: { code: 'not_found', message: `no route ${url.pathname}` } }));
        },
        (err: unknown) => {
          log.error({ err }, 'metrics request failed');
          if (!res.headersSent) res.writeHead(500);
          res.end();
        },
      );
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const port = (server.address() as { port: number }).port;
    log.info({ host: this.options.host, port }, `metrics on http://${this.options.host}:${port}/metrics`);
    return { port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
