import {
  CoapError,
  ContentFormat,
  notFound,
  type CoapMethod,
  type CoapRequest,
  type CoapResponse,
} from '../src/coap/types.js';
import type { Link } from '../src/coap/link-format.js';

/** A handler of one route; `id` is the second path segment of `/rd/<id>` and `/rd-group/<id>`. */
export type RouteHandler = (request: CoapRequest, id: string) => CoapResponse | Promise<CoapResponse>;

/** A route's handlers by method, and the resource type it is discovered by (RFC 9176 §4.3), if any. */
export type Route = Partial<Record<CoapMethod, RouteHandler>> & { rt?: string };

export type Routes = Record<string, Route>;

/** Collections whose members live one segment below them (RFC 9176 §5.3 locations). */
const COLLECTIONS = new Set(['rd', 'rd-group']);

/** What a change passes through besides its handler. */
export interface ChangeHooks {
  /** Runs before the handler; throws to refuse (the allowed networks). */
  before(request: CoapRequest): void;
  /** Resolves when what the handler wrote is on disk: the reply waits for it (answer after durability). */
  durable(): Promise<void>;
}

const NO_HOOKS: ChangeHooks = { before: () => {}, durable: () => Promise.resolve() };

/**
 * Dispatches by path, then method: an unknown path is 4.04, a known path with another method 4.05
 * (RFC 7252 §5.9.2.6). Route keys are paths, with `:id` standing for a member of a collection.
 * A change (any method but GET) passes `before` first, and is answered only once its writes are durable,
 * so no reply of the RD (2.01 Created above all) ever announces a change a crash could still undo.
 */
export class Router {
  constructor(
    private readonly routes: Routes,
    private readonly hooks: ChangeHooks = NO_HOOKS,
  ) {}

  /** The links of the routes with a resource type, in table order: what `/.well-known/core` lists. */
  links(): Link[] {
    return Object.entries(this.routes).flatMap(([path, route]) =>
      route.rt === undefined
        ? []
        : [{ href: `/${path}`, attrs: { rt: route.rt, ct: String(ContentFormat.linkFormat) } }],
    );
  }

  handle = (request: CoapRequest): CoapResponse | Promise<CoapResponse> => {
    const methods = this.routes[routeKey(request.path)];
    if (!methods) throw notFound(`no resource /${request.path.join('/')}`);
    const handler = methods[request.method] as RouteHandler | undefined;
    if (!handler) {
      const allowed = Object.keys(methods).filter((key) => key !== 'rt');
      throw new CoapError(
        '4.05',
        `${request.method} not allowed on /${request.path.join('/')} (${allowed.join(', ')})`,
      );
    }
    // Every GET resource of the RD serves link-format only: another Accept is 4.06 (RFC 7252 §5.10.4).
    if (request.method === 'GET' && request.accept !== undefined && request.accept !== ContentFormat.linkFormat) {
      throw new CoapError('4.06', 'only application/link-format (40)');
    }
    const id = request.path[1] ?? '';
    if (request.method === 'GET') return handler(request, id);
    this.hooks.before(request);
    return this.answerWhenDurable(handler(request, id));
  };

  private async answerWhenDurable(response: CoapResponse | Promise<CoapResponse>): Promise<CoapResponse> {
    const answer = await response;
    await this.hooks.durable();
    return answer;
  }
}

function routeKey(path: readonly string[]): string {
  if (path.length === 2 && COLLECTIONS.has(path[0]!) && path[1] !== '') return `${path[0]}/:id`;
  return path.join('/');
}
