import {
  CoapError,
  ContentFormat,
  notFound,
  type CoapMethod,
  type CoapRequest,
  type CoapResponse,
} from '../src/coap/types.js';

/** A handler of one route; `id` is the second path segment of `/rd/<id>` and `/rd-group/<id>`. */
export type RouteHandler = (request: CoapRequest, id: string) => CoapResponse | Promise<CoapResponse>;

export type Routes = Record<string, Partial<Record<CoapMethod, RouteHandler>>>;

/** Collections whose members live one segment below them (RFC 9176 §5.3 locations). */
const COLLECTIONS = new Set(['rd', 'rd-group']);

/**
 * Dispatches by path, then method: an unknown path is 4.04, a known path with another method 4.05
 * (RFC 7252 §5.9.2.6). Changes pass `beforeChange` (the allowed networks) first. Route keys are paths, with `:id` standing for a member of a collection.
 */
export class Router {
  constructor(
    private readonly routes: Routes,
    private readonly beforeChange: (request: CoapRequest) => void = () => {},
  ) {}

  handle = (request: CoapRequest): CoapResponse | Promise<CoapResponse> => {
    const methods = this.routes[routeKey(request.path)];
    if (!methods) throw notFound(`no resource /${request.path.join('/')}`);
    const handler = methods[request.method];
    if (!handler) {
      const allowed = Object.keys(methods).join(', ');
      throw new CoapError('4.05', `${request.method} not allowed on /${request.path.join('/')} (${allowed})`);
    }
    // Every GET resource of the RD serves link-format only: another Accept is 4.06 (RFC 7252 §5.10.4).
    if (request.method === 'GET' && request.accept !== undefined && request.accept !== ContentFormat.linkFormat) {
      throw new CoapError('4.06', 'only application/link-format (40)');
    }
    if (request.method !== 'GET') this.beforeChange(request);
    return handler(request, request.path[1] ?? '');
  };
}

function routeKey(path: readonly string[]): string {
  if (path.length === 2 && COLLECTIONS.has(path[0]!) && path[1] !== '') return `${path[0]}/:id`;
  return path.join('/');
}
