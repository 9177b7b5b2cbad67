import { CoapError, ContentFormat, type CoapRequest, type CoapResponse } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { Store } from '../src/store/index.js';
import type { Registration } from '../src/store/types.js';
import type { AttrValue, Link } from '../src/coap/link-format.js';
import type { Directory } from './directory.js';
import { compileCriterion, isExact, valueTest } from './match.js';
import { distinctCriteria, parseLookupQuery, type LookupQuery } from './query.js';
import { endpointLink, locationOf, resolve, resolvedText, resolveLink } from './resolved.js';

/**
 * RFC 9176 §6: endpoint lookup (`/rd-lookup/ep`) and resource lookup (`/rd-lookup/res`).
 * Every criterion is its own predicate and all of them must hold (§6.2: "All included criteria MUST match").
 * A resource link matches a criterion when it or its endpoint does; an endpoint matches when it or any
 * of its links does.
 *
 * Bounded work per request: at most limits.maxLookupFilters distinct criteria (duplicates collapse, more is
 * 4.00), at most limits.lookupBudget attribute tests (more is 5.03), done in slices of SLICE_TESTS tests
 * with a turn of the event loop between them, so registrations, pings, notifications and the platform
 * link are served while a large lookup runs. One 60 KB datagram of 15,000 `a=*` filters over 50,000 links
 * held the event loop for 2.5 s before these bounds.
 */
export class Lookup {
  private inFlight = 0;

  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly limits: Pick<RdConfig['limits'], 'maxLookupFilters' | 'lookupBudget'> = {
      maxLookupFilters: Infinity,
      lookupBudget: Infinity,
    },
  ) {}

  private readonly large = new Map<string, { version: number; response: CoapResponse }>();

  endpoints = (request: CoapRequest): CoapResponse | Promise<CoapResponse> =>
    this.cached(request, this.renderEndpoints);

  resources = (request: CoapRequest): CoapResponse | Promise<CoapResponse> =>
    this.cached(request, this.renderResources);

  // Generator methods, not generator expressions per request: every generator function object gets a prototype of
  // its own, and generator objects of a new prototype a new hidden class, which V8 keeps in old space. One such
  // closure per lookup made a third of the gateway's lookup CPU garbage collection.
  private *renderEndpoints(request: CoapRequest): Scan<CoapResponse> {
    const found = yield* this.scanEndpoints(parseLookupQuery(request.query));
    return linkFormat(found.map((reg) => endpointLink(reg).text));
  }

  private *renderResources(request: CoapRequest): Scan<CoapResponse> {
    const found = yield* this.scanResources(parseLookupQuery(request.query));
    return linkFormat(found.map(({ reg, index }) => resolvedText(reg, index)));
  }

  /**
   * A result larger than one block is fetched block by block (RFC 7959 Block2), and every block request
   * comes back here: the rendered result is kept until the directory changes, so a 4 MB lookup is
   * computed once, not once per 1 KB block, and all its blocks come from one representation (§2.4).
   * Its ETag is the directory version it reflects. A registration whose lifetime ran out leaves such
   * a result at the next sweep (config.rd.expiryCheckSeconds), which changes the version.
   */
  private cached(
    request: CoapRequest,
    render: (this: Lookup, request: CoapRequest) => Scan<CoapResponse>,
  ): CoapResponse | Promise<CoapResponse> {
    const version = this.directory.version;
    // Nearly every result fits one datagram and nothing is kept: no key to build then.
    const hit = this.large.size > 0 ? this.large.get(keyOf(request)) : undefined;
    if (hit?.version === version) return hit.response;
    // Most lookups finish within their first slice: answered in this turn, no promise, no slot.
    const scan = render.call(this, request);
    const first = scan.next();
    if (first.done) return this.keep(request, version, first.value);
    // A lookup that needs more turns takes one slice per turn: a few of them at once keep a turn short.
    if (this.inFlight >= LOOKUPS_IN_FLIGHT) throw new CoapError('5.03', 'lookups busy', BUSY_RETRY_SECONDS);
    this.inFlight++;
    return finish(scan, first)
      .finally(() => this.inFlight--)
      .then((response) => this.keep(request, version, response));
  }

  private keep(request: CoapRequest, version: number, response: CoapResponse): CoapResponse {
    // A lookup that spanned a change reflects no single version: served, not kept.
    if (version !== this.directory.version) return response;
    if (typeof response.payload === 'string' && response.payload.length > ONE_BLOCK) {
      const etag = Buffer.alloc(4);
      etag.writeUInt32BE(version % 2 ** 32);
      const tagged = { ...response, etag };
      const key = keyOf(request);
      this.large.delete(key);
      this.large.set(key, { version, response: tagged });
      if (this.large.size > CACHED_RESULTS) this.large.delete(this.large.keys().next().value!);
      return tagged;
    }
    return response;
  }

  /** Registrations matching the query, paged. */
  findEndpoints(query: LookupQuery): Promise<Registration[]> {
    return finish(this.scanEndpoints(query));
  }

  /** Resource links matching the query, with their registration, paged. */
  findResources(query: LookupQuery): Promise<FoundResource[]> {
    return finish(this.scanResources(query));
  }

  private *scanEndpoints(query: LookupQuery): Scan<Registration[]> {
    const criteria = this.criteriaOf(query);
    const page = new Page<Registration>(query);
    const meter = new Meter(this.limits.lookupBudget);
    for (const reg of this.candidates(query)) {
      if (meter.charge(1 + criteria.length * (1 + reg.links.length))) yield;
      const matches = criteria.every((c) => c.endpoint(reg) || reg.links.some((link) => c.link(reg, link)));
      if (matches && page.offer(reg)) break;
    }
    return page.items;
  }

  private *scanResources(query: LookupQuery): Scan<FoundResource[]> {
    const criteria = this.criteriaOf(query);
    const page = new Page<FoundResource>(query);
    const meter = new Meter(this.limits.lookupBudget);
    for (const reg of this.candidates(query)) {
      const open = criteria.filter((c) => !c.endpoint(reg));
      if (meter.charge(1 + criteria.length + open.length * reg.links.length)) yield;
      for (let index = 0; index < reg.links.length; index++) {
        const link = reg.links[index]!;
        if (open.every((c) => c.link(reg, link)) && page.offer({ reg, link, index })) return page.items;
      }
    }
    return page.items;
  }

  private criteriaOf(query: LookupQuery): EndpointAndLinkCriterion[] {
    const distinct = distinctCriteria(query.criteria, this.limits.maxLookupFilters);
    return distinct.map((param) => this.compile(param.name, param.value));
  }

  /** The smallest set an index gives for the query's exact criteria; otherwise every live registration. */
  private candidates(query: LookupQuery): Iterable<Registration> {
    const ep = query.criteria.find((param) => param.name === 'ep' && isExact(param));
    if (ep) return this.directory.among(this.directory.endpoints.withEndpoint(ep.value as string));
    // The endpoint link itself has rt="core.rd-ep" (RFC 9176 §6.3), which no resource link index holds.
    const rt = query.criteria.find(
      (param) =>
        param.name === 'rt' && isExact(param) && !/\s/.test(param.value as string) && param.value !== 'core.rd-ep',
    );
    if (rt) return this.directory.among(this.directory.endpoints.withResourceType(rt.value as string));
    return this.directory.all();
  }

  private compile(name: string, value: AttrValue): EndpointAndLinkCriterion {
    if (name === 'gp') {
      // draft-ietf-core-resource-directory-11 §7: gp selects the members of the named groups.
      const test = valueTest('gp', value);
      const members = new Set(
        this.store.groups
          .list()
          .filter((g) => test(g.gp))
          .flatMap((g) => g.members),
      );
      return { endpoint: (reg) => members.has(reg.deviceId), link: () => false };
    }
    const { test } = compileCriterion({ name, value });
    return {
      endpoint: (reg) => test(endpointValue(reg, name)),
      link: (reg, link) => test(linkValue(reg, link, name)),
    };
  }
}

/** Attribute tests between two turns of the event loop (about a millisecond or two of matching). */
const SLICE_TESTS = 20_000;
/** Lookups that may be working at once; more are 5.03 with Max-Age (RFC 7252 §5.9.3.4). */
const LOOKUPS_IN_FLIGHT = 4;
const BUSY_RETRY_SECONDS = 1;

/** A lookup's matching as steps: each `yield` ends a slice, and the next one runs in a later turn. */
type Scan<T> = Generator<void, T, void>;

/** Runs a scan's remaining slices, one per turn of the event loop. */
async function finish<T>(scan: Scan<T>, first = scan.next()): Promise<T> {
  for (let step = first; ; step = scan.next()) {
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Counts a lookup's attribute tests against its budget, and says when a slice of SLICE_TESTS is used up. */
class Meter {
  private spent = 0;
  private sinceYield = 0;

  constructor(private readonly budget: number) {}

  /** True when the lookup should give the event loop a turn before it goes on. */
  charge(tests: number): boolean {
    this.spent += tests;
    if (this.spent > this.budget) {
      throw new CoapError('5.03', `lookup needs more than ${this.budget} attribute tests; narrow it (ep, rt, count)`);
    }
    this.sinceYield += tests;
    if (this.sinceYield < SLICE_TESTS) return false;
    this.sinceYield = 0;
    return true;
  }
}

/** What a kept result is found by: the lookup's path and query. */
const keyOf = (request: CoapRequest): string => `${request.path.join('/')}?${request.query.join('&')}`;

/** RFC 7959 block size the server slices by; smaller results fit one datagram and are not kept. */
const ONE_BLOCK = 1024;
/** Large results kept at once (oldest dropped first). */
const CACHED_RESULTS = 32;

export interface FoundResource {
  reg: Registration;
  /** As registered; resolveLink() gives the form lookups present. */
  link: Link;
  /** Its position among the registration's links. */
  index: number;
}

interface EndpointAndLinkCriterion {
  endpoint: (reg: Registration) => boolean;
  link: (reg: Registration, link: Link) => boolean;
}

/** RFC 9176 §6.2: `href` on an endpoint is its registration resource; other names are endpoint attributes. */
function endpointValue(reg: Registration, name: string): AttrValue | undefined {
  if (name === 'href') return locationOf(reg);
  return endpointLink(reg).attrs[name];
}

/** RFC 9176 §6.2: `href` and `anchor` are matched in resolved form. */
function linkValue(reg: Registration, link: Link, name: string): AttrValue | undefined {
  if (name === 'href') return resolve(link.href, reg.base);
  if (name === 'anchor') return resolveLink(reg, link).anchor;
  return link.attrs[name];
}

/** RFC 9176 §6.2 paging: `count` results starting at result `page * count`; page 0 is the first. */
class Page<T> {
  readonly items: T[] = [];
  private skip: number;
  private readonly limit: number;

  constructor(query: LookupQuery) {
    this.limit = query.count ?? Infinity;
    this.skip = query.count === undefined ? 0 : query.page * query.count;
  }

  /** Takes one match; true when the page is full and the search can stop. */
  offer(item: T): boolean {
    if (this.items.length >= this.limit) return true;
    if (this.skip > 0) this.skip--;
    else this.items.push(item);
    return this.items.length >= this.limit;
  }
}

export function linkFormat(items: readonly string[]): CoapResponse {
  return { code: '2.05', contentFormat: ContentFormat.linkFormat, payload: items.join(',') };
}
