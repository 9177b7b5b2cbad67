import type { IncomingMessage, ServerResponse } from 'node:http';
import { evaluate, type ReadinessCheck } from './health.js';
import { exposition, type Registry } from './registry.js';

export interface OperatorRoutesOptions {
  registry: Registry;
  readiness: () => readonly ReadinessCheck[];
  /** Whether a request may read /metrics (the API key, unless configured otherwise); health is always open. */
  mayReadMetrics: (req: IncomingMessage, url: URL) => boolean;
}

export type OperatorRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

const HEALTH_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/**
 * `GET /healthz`, `GET /readyz` and `GET /metrics`, shared by the hub and the gateway's own metrics listener.
 * Resolves false for any other request, which the caller then routes on. Health answers come from memory,
 * so a probe every second costs nothing; only /metrics runs the collectors.
 */
export function operatorRoutes(options: OperatorRoutesOptions): OperatorRoutes {
  return async (req, res, url) => {
    const route = url.pathname;
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...HEALTH_HEADERS, allow: 'GET, HEAD' });
      res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: `${req.method} is not allowed` } }));
      return true;
    }
    if (route === '/healthz') {
      res.writeHead(200, HEALTH_HEADERS);
      res.end(JSON.stringify({ status: 'ok' }));
      return true;
    }
    if (route === '/readyz') {
      const { ready, checks } = evaluate(options.readiness());
      res.writeHead(ready ? 200 : 503, HEALTH_HEADERS);
      res.end(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }));
      return true;
    }
    if (!options.mayReadMetrics(req, url)) {
      res.writeHead(401, { ...HEALTH_HEADERS, 'www-authenticate': 'Bearer' });
      res.end(
        JSON.stringify({
          error: { code: 'unauthorized', message: 'a valid API key is required (X-API-Key, Authorization: Bearer)' },
        }),
      );
      return true;
    }
    const { contentType, body } = await exposition(options.registry);
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
