import { CoapError, type CoapRequest, type CoapResponse, type Peer } from '../src/coap/types.js';
import { Counter, Histogram, secondsSince, type Registry } from '../src/metrics/index.js';

/** RFC 9176's interfaces as the `interface` label: a handful of fixed values, never a path or an endpoint. */
export type RdInterface =
  'registration' | 'lookup' | 'group' | 'simple_registration' | 'discovery' | 'limits' | 'other';

export function interfaceOf(request: Pick<CoapRequest, 'path' | 'method'>): RdInterface {
  const [first, second] = request.path;
  if (first === 'rd') return 'registration';
  if (first === 'rd-lookup') return 'lookup';
  if (first === 'rd-group') return 'group';
  if (first === '.well-known' && second === 'rd') return 'simple_registration';
  // RFC 9176 §5.1: an empty POST to /.well-known/core is a simple registration; a GET is discovery (RFC 6690).
  if (first === '.well-known' && second === 'core')
    return request.method === 'POST' ? 'simple_registration' : 'discovery';
  return 'other';
}

type Handler = (request: CoapRequest) => CoapResponse | Promise<CoapResponse>;
type Admit = (peer: Peer) => CoapError | undefined;

/**
 * `coregate_rd_requests_total{interface, code}` and `coregate_rd_request_duration_seconds{interface}`, measured
 * around the router: from the parsed request to the response code its handler chose (a thrown CoapError's code,
 * 5.00 for anything else). Requests the limits refuse before routing count as interface `limits`.
 */
export class RdMetrics {
  private readonly requests: Counter<'interface' | 'code'>;
  private readonly duration: Histogram<'interface'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'coregate_rd_requests_total',
      help: 'Resource Directory requests answered, by RFC 9176 interface and CoAP response code',
      labelNames: ['interface', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'coregate_rd_request_duration_seconds',
      help: 'Time from a parsed Resource Directory request to its response, by interface',
      labelNames: ['interface'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
  }

  handler(inner: Handler): Handler {
    return (request) => {
      const started = performance.now();
      const done = (code: string): void => this.record(interfaceOf(request), code, started);
      const fail = (err: unknown): never => {
        done(err instanceof CoapError ? err.code : '5.00');
        throw err;
      };
      let result: CoapResponse | Promise<CoapResponse>;
      try {
        result = inner(request);
      } catch (err) {
        return fail(err);
      }
      if (!(result instanceof Promise)) {
        done(result.code);
        return result;
      }
      return result.then((response) => {
        done(response.code);
        return response;
      }, fail);
    };
  }

  admit(inner: Admit): Admit {
    return (peer) => {
      const refused = inner(peer);
      if (refused !== undefined) this.requests.inc({ interface: 'limits', code: refused.code });
      return refused;
    };
  }

  private record(where: RdInterface, code: string, started: number): void {
    this.requests.inc({ interface: where, code });
    this.duration.observe({ interface: where }, secondsSince(started));
  }
}
