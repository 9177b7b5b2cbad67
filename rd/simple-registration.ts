import { LinkFormatError, parseLinkFormat, type Link } from '../src/coap/link-format.js';
import {
  badRequest,
  CoapError,
  ContentFormat,
  type CoapClientApi,
  type CoapRequest,
  type CoapResponse,
} from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { Logger } from '../src/log.js';
import { newId } from '../src/store/index.js';
import type { Source } from './address.js';
import type { Directory } from './directory.js';
import { sourceOf } from './payload.js';
import { parseRegistrationParams, type RegistrationParams } from './query.js';
import { checkLinks, checkParams } from './registration-limits.js';

/** How long the RD waits for the registrant's `/.well-known/core`, retransmissions included. */
const FETCH_TIMEOUT_MS = 10_000;

/**
 * Simple registration (RFC 9176 §5.1): an empty `POST /.well-known/rd?ep=...` (or the older
 * `POST /.well-known/core?ep=...` of deployed devices) makes the RD fetch the requester's
 * `/.well-known/core` and register it with the requester's address as base.
 *
 * In the RFC's order: a CON is acknowledged at once with an empty ACK (RFC 7252 §5.2.2), so the requester
 * stops retransmitting while the RD fetches; the fetch leaves from the RD's own port (one endpoint), which a
 * requester that connect()s its socket to the RD accepts; the 2.04 follows as a separate response only once
 * the registration exists, so it reliably means "registered". A failed fetch registers nothing and is
 * answered 5.04 (no answer) or 5.02 (an error or a payload that is not link-format), with a diagnostic.
 */
export class SimpleRegistration {
  private readonly pending = new Set<Promise<CoapResponse>>();

  constructor(
    private readonly directory: Directory,
    private readonly client: Pick<CoapClientApi, 'request'>,
    private readonly config: RdConfig,
    private readonly log: Logger,
  ) {}

  handle = (request: CoapRequest): Promise<CoapResponse> => {
    const params = parseRegistrationParams(request.query);
    if (params.ep === undefined && this.config.requireEp) throw badRequest('ep is required');
    if (params.base !== undefined) throw badRequest('simple registration takes no base');
    if (request.payload.length > 0) throw badRequest('simple registration has no payload');
    checkParams(params, this.config.limits);
    request.acknowledge?.();
    const fetch = this.fetchAndRegister(params, sourceOf(request)).finally(() => this.pending.delete(fetch));
    this.pending.add(fetch);
    return fetch;
  };

  /** Waits for the fetches in flight (stop() calls it before the client closes). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.pending);
  }

  private async fetchAndRegister(params: RegistrationParams, source: Source): Promise<CoapResponse> {
    let links: Link[];
    try {
      const reply = await this.client.request({
        host: source.host,
        port: source.port,
        method: 'GET',
        path: '/.well-known/core',
        accept: ContentFormat.linkFormat,
        timeoutMs: FETCH_TIMEOUT_MS,
      });
      if (reply.code !== '2.05') {
        this.log.warn({ source, code: reply.code }, 'simple registration: /.well-known/core not available');
        throw new CoapError('5.02', `GET /.well-known/core answered ${reply.code}`);
      }
      links = parseLinkFormat(reply.payload.toString('utf8')).slice(0, this.config.limits.maxLinksPerRegistration);
      checkLinks(links, this.config.limits);
    } catch (err) {
      if (err instanceof CoapError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      this.log.warn({ source, reason }, 'simple registration failed');
      if (err instanceof LinkFormatError) throw new CoapError('5.02', `/.well-known/core: ${reason}`);
      throw new CoapError('5.04', `no answer to GET /.well-known/core: ${reason}`);
    }
    this.directory.register(
      {
        ep: params.ep ?? newId(),
        d: params.d ?? null,
        lt: params.lt ?? this.config.defaultLifetime,
        base: undefined,
        et: params.et ?? null,
        attrs: params.extra,
        links,
      },
      source,
      'simple',
    );
    return { code: '2.04' };
  }
}
