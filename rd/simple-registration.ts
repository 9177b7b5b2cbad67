import { parseLinkFormat } from '../src/coap/link-format.js';
import {
  badRequest,
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
 * The requester is answered 2.04 before the fetch, as docs/design.md "Simple registration" decides and earlier drafts describe, so a
 * constrained device is never asked to serve a GET while it still waits for its own exchange.
 * (RFC 9176 itself answers after the fetch.) A failed fetch registers nothing and logs one line.
 */
export class SimpleRegistration {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly directory: Directory,
    private readonly client: Pick<CoapClientApi, 'request'>,
    private readonly config: RdConfig,
    private readonly log: Logger,
  ) {}

  handle = (request: CoapRequest): CoapResponse => {
    const params = parseRegistrationParams(request.query);
    if (params.ep === undefined && this.config.requireEp) throw badRequest('ep is required');
    if (params.base !== undefined) throw badRequest('simple registration takes no base');
    if (request.payload.length > 0) throw badRequest('simple registration has no payload');
    checkParams(params, this.config.limits);
    const fetch = this.fetchAndRegister(params, sourceOf(request)).finally(() => this.pending.delete(fetch));
    this.pending.add(fetch);
    return { code: '2.04' };
  };

  /** Waits for the fetches in flight (stop() calls it before the client closes). */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
  }

  private async fetchAndRegister(params: RegistrationParams, source: Source): Promise<void> {
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
        return;
      }
      const links = parseLinkFormat(reply.payload.toString('utf8')).slice(
        0,
        this.config.limits.maxLinksPerRegistration,
      );
      checkLinks(links, this.config.limits);
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
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.log.warn({ source, reason }, 'simple registration failed');
    }
  }
}
