import { formatLinkFormat } from '../src/coap/link-format.js';
import { badRequest, ContentFormat, notFound, type CoapRequest, type CoapResponse } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import { newId } from '../src/store/index.js';
import type { Directory } from './directory.js';
import { readLinks, sourceOf } from './payload.js';
import { parseRegistrationParams } from './query.js';
import { checkLinks, checkParams } from './registration-limits.js';

/**
 * RFC 9176 §5.3: the registration interface (`POST /rd`) and the registration resource `/rd/<id>`
 * (§5.3.1 update, §5.3.2 removal, §5.3.3 reading its links).
 */
export class RegistrationInterface {
  constructor(
    private readonly directory: Directory,
    private readonly config: RdConfig,
  ) {}

  /** RFC 9176 §5.3: 2.01 Created with the registration's location. */
  register = (request: CoapRequest): CoapResponse => {
    const params = parseRegistrationParams(request.query);
    if (params.ep === undefined && this.config.requireEp) throw badRequest('ep is required');
    checkParams(params, this.config.limits);
    const links = readLinks(request, this.config.limits.maxLinksPerRegistration);
    checkLinks(links, this.config.limits);
    const reg = this.directory.register(
      {
        // RFC 9176 §5.3: without ep, the RD names the endpoint itself.
        ep: params.ep ?? newId(),
        d: params.d ?? null,
        lt: params.lt ?? this.config.defaultLifetime,
        base: params.base,
        et: params.et ?? null,
        attrs: params.extra,
        links,
      },
      sourceOf(request),
      'registration',
    );
    return { code: '2.01', locationPath: ['rd', reg.deviceId] };
  };

  read = (_request: CoapRequest, id: string): CoapResponse => {
    const reg = this.directory.get(id);
    if (!reg) throw notFound(`no registration ${id} (removed or expired: register again)`);
    return { code: '2.05', contentFormat: ContentFormat.linkFormat, payload: formatLinkFormat(reg.links) };
  };

  /**
   * RFC 9176 §5.3.1: refreshes the lifetime; may change lt, base, et and extra attributes.
   * A link-format payload replaces the links (an extension of this RD; the RFC sends none).
   */
  update = (request: CoapRequest, id: string): CoapResponse => {
    const params = parseRegistrationParams(request.query);
    if (params.ep !== undefined || params.d !== undefined) throw badRequest('ep and d cannot change in an update');
    checkParams(params, this.config.limits);
    const links =
      request.payload.length > 0 ? readLinks(request, this.config.limits.maxLinksPerRegistration) : undefined;
    if (links) checkLinks(links, this.config.limits);
    const change = { lt: params.lt, base: params.base, et: params.et, attrs: params.extra, links };
    if (!this.directory.update(id, change, sourceOf(request)))
      throw notFound(`no registration ${id} (removed or expired: register again)`);
    return { code: '2.04' };
  };

  /** RFC 9176 §5.3.2. */
  remove = (_request: CoapRequest, id: string): CoapResponse => {
    if (!this.directory.get(id)) throw notFound(`no registration ${id} (removed or expired: register again)`);
    this.directory.remove(id, 'deleted');
    return { code: '2.02' };
  };
}
