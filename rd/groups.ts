import { formatLink } from '../src/coap/link-format.js';
import { badRequest, notFound, type CoapRequest, type CoapResponse } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import { newId, type Store } from '../src/store/index.js';
import type { Group } from '../src/store/types.js';
import type { Attrs, Link } from '../src/coap/link-format.js';
import type { Directory } from './directory.js';
import { linkFormat } from './lookup.js';
import { compileCriterion } from './match.js';
import { readLinks } from './payload.js';
import { distinctCriteria, parseBase, parseLookupQuery, splitQuery } from './query.js';
import { endpointLink } from './resolved.js';

/**
 * Groups as draft-ietf-core-resource-directory-11 §6.3 defines them: `POST /rd-group?gp=...` with one
 * link per member endpoint (`<>;ep=node1` or the member's registration `</rd/abc>`), the group resource
 * `/rd-group/<id>` (GET its members, POST to change it, DELETE), and group lookup `/rd-lookup/gp`.
 * Posting the same (d, gp) again replaces the group and keeps its location.
 */
export class GroupInterface {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly config: RdConfig,
  ) {}

  register = (request: CoapRequest): CoapResponse => {
    const params = parseGroupParams(request.query);
    if (params.gp === undefined) throw badRequest('gp is required');
    const d = params.d ?? null;
    const existing = this.store.groups.findByName(d, params.gp);
    const members = this.members(readLinks(request, this.config.limits.maxLinksPerRegistration), d);
    const group: Group = {
      id: existing?.id ?? newId(),
      gp: params.gp,
      d,
      base: params.base ?? null,
      attrs: params.attrs,
      members,
      createdAt: existing?.createdAt ?? Date.now(),
    };
    this.store.groups.put(group);
    this.directory.changed();
    return { code: existing ? '2.04' : '2.01', locationPath: ['rd-group', group.id] };
  };

  read = (_request: CoapRequest, id: string): CoapResponse => {
    const group = this.store.groups.get(id);
    if (!group) throw notFound(`no group ${id}`);
    return linkFormat(this.liveMembers(group).map((reg) => endpointLink(reg).text));
  };

  /** Changes the group's attributes; a payload replaces its member list. */
  update = (request: CoapRequest, id: string): CoapResponse => {
    const group = this.store.groups.get(id);
    if (!group) throw notFound(`no group ${id}`);
    const params = parseGroupParams(request.query);
    if (params.gp !== undefined || params.d !== undefined) throw badRequest('gp and d cannot change');
    const members =
      request.payload.length > 0
        ? this.members(readLinks(request, this.config.limits.maxLinksPerRegistration), group.d)
        : group.members;
    this.store.groups.put({
      ...group,
      base: params.base ?? group.base,
      attrs: { ...group.attrs, ...params.attrs },
      members,
    });
    this.directory.changed();
    return { code: '2.04' };
  };

  remove = (_request: CoapRequest, id: string): CoapResponse => {
    if (!this.store.groups.remove(id)) throw notFound(`no group ${id}`);
    this.directory.changed();
    return { code: '2.02' };
  };

  /** Group lookup: filters on gp, d, con/base, other group attributes, and `ep` of a member. */
  lookup = (request: CoapRequest): CoapResponse => {
    const query = parseLookupQuery(request.query);
    const criteria = distinctCriteria(query.criteria, this.config.limits.maxLookupFilters).map(compileCriterion);
    const matches = this.store.groups.list().filter((group) => {
      const attrs = groupAttrs(group);
      const members = this.liveMembers(group);
      return criteria.every(
        (c) => c.test(attrs[c.name]) || members.some((reg) => c.test(endpointLink(reg).attrs[c.name])),
      );
    });
    const start = query.count === undefined ? 0 : query.page * query.count;
    const end = query.count === undefined ? undefined : start + query.count;
    return linkFormat(
      matches.slice(start, end).map((group) => formatLink({ href: `/rd-group/${group.id}`, attrs: groupAttrs(group) })),
    );
  };

  private liveMembers(group: Group) {
    return [...this.directory.among(group.members)];
  }

  /** Each link names a registered endpoint, by `ep` (and `d`) or by its registration resource. */
  private members(links: Link[], d: string | null): string[] {
    const ids = links.map((link) => {
      const ep = link.attrs.ep;
      const id =
        typeof ep === 'string'
          ? this.endpointNamed(ep, typeof link.attrs.d === 'string' ? link.attrs.d : d)
          : /^(?:[a-z+]+:\/\/[^/]*)?\/rd\/([^/?#]+)$/.exec(link.href)?.[1];
      if (id === undefined || !this.directory.get(id)) throw badRequest(`unknown endpoint ${formatLink(link)}`);
      return id;
    });
    return [...new Set(ids)];
  }

  /**
   * The registration of `ep` in sector `d`. Without a sector (none on the link, none on the group), an `ep`
   * that names exactly one registered endpoint is that endpoint, whatever its sector: draft-11 §6.5's example
   * `<>;ep="node1"` names its members by `ep` alone; a name registered in several sectors needs a `d`.
   */
  private endpointNamed(ep: string, d: string | null): string | undefined {
    const exact = this.store.devices.findByEndpoint(d, ep)?.id;
    if (exact !== undefined || d !== null) return exact;
    const candidates = [...this.directory.among(this.directory.endpoints.withEndpoint(ep))];
    if (candidates.length > 1) {
      const sectors = candidates.map((reg) => reg.d ?? '(none)').join(', ');
      throw badRequest(`ep "${ep}" is registered in several sectors (${sectors}): give d`);
    }
    return candidates[0]?.deviceId;
  }
}

interface GroupParams {
  gp: string | undefined;
  d: string | undefined;
  base: string | undefined;
  attrs: Attrs;
}

function parseGroupParams(query: readonly string[]): GroupParams {
  const params: GroupParams = { gp: undefined, d: undefined, base: undefined, attrs: {} };
  for (const { name, value } of splitQuery(query)) {
    if (name === 'gp' || name === 'd') {
      if (typeof value !== 'string' || value === '') throw badRequest(`'${name}' needs a value`);
      params[name] = value;
    } else if (name === 'con' || name === 'base') {
      // draft-11 names the group's multicast address `con`; RFC 9176 renamed it `base`.
      if (typeof value !== 'string') throw badRequest(`'${name}' needs a value`);
      params.base = parseBase(value);
    } else if (name !== '') params.attrs[name] = value;
  }
  return params;
}

function groupAttrs(group: Group): Attrs {
  const attrs: Attrs = { gp: group.gp };
  if (group.d !== null) attrs.d = group.d;
  if (group.base !== null) attrs.con = group.base;
  return { ...attrs, ...group.attrs };
}
