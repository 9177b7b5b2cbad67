import { badRequest } from '../src/coap/types.js';
import type { Attrs, AttrValue } from '../src/coap/link-format.js';

/** One Uri-Query item split at its first `=`; an item without `=` is a flag (RFC 6690 §4.1 `?obs`). */
export interface QueryParam {
  name: string;
  value: AttrValue;
}

export function splitQuery(query: readonly string[]): QueryParam[] {
  return query.map((item) => {
    const eq = item.indexOf('=');
    return eq < 0 ? { name: item, value: true } : { name: item.slice(0, eq), value: item.slice(eq + 1) };
  });
}

/** RFC 9176 §5.3: lt is 1..2^32-1 seconds. */
const MAX_LIFETIME = 4_294_967_295;

/** Parameters of the registration interface and of a registration update (RFC 9176 §5.3, §5.3.1). */
export interface RegistrationParams {
  ep: string | undefined;
  d: string | undefined;
  lt: number | undefined;
  base: string | undefined;
  et: string | undefined;
  /** Every other parameter: stored as an endpoint attribute (LwM2M's `lwm2m`, `b`, ...). */
  extra: Attrs;
}

// Parameters that name or locate the registration: one occurrence each.
const SINGLE = new Set(['ep', 'd', 'lt', 'base']);

export function parseRegistrationParams(query: readonly string[]): RegistrationParams {
  const params: RegistrationParams = {
    ep: undefined,
    d: undefined,
    lt: undefined,
    base: undefined,
    et: undefined,
    extra: {},
  };
  const seen = new Set<string>();
  for (const { name, value } of splitQuery(query)) {
    if (name === '') throw badRequest('empty query parameter name');
    if (SINGLE.has(name)) {
      if (seen.has(name)) throw badRequest(`repeated parameter '${name}'`);
      seen.add(name);
      if (value === true || value === '') throw badRequest(`'${name}' needs a value`);
    }
    switch (name) {
      case 'ep':
      case 'd':
        params[name] = value as string;
        break;
      case 'lt':
        params.lt = parseLifetime(value as string);
        break;
      case 'base':
        params.base = parseBase(value as string);
        break;
      case 'et':
        // RFC 9176 §9.3: et is a relation-type-like list; repeated et parameters join.
        if (value === true) throw badRequest("'et' needs a value");
        params.et = params.et === undefined ? value : `${params.et} ${value}`;
        break;
      default:
        params.extra[name] = value;
    }
  }
  return params;
}

export function parseLifetime(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw badRequest('lt must be an integer number of seconds');
  const lt = Number(text);
  if (lt < 1 || lt > MAX_LIFETIME) throw badRequest('lt must be between 1 and 4294967295');
  return lt;
}

/** RFC 9176 §5.3: base is a URI (scheme and authority) without query or fragment. */
export function parseBase(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badRequest('base must be an absolute URI');
  }
  if (url.host === '') throw badRequest('base must name a host');
  if (text.includes('?') || text.includes('#')) throw badRequest('base must not have a query or fragment');
  return text;
}

/** A lookup query: search criteria plus the paging parameters of RFC 9176 §6.2. */
export interface LookupQuery {
  criteria: QueryParam[];
  page: number;
  count: number | undefined;
}

export function parseLookupQuery(query: readonly string[]): LookupQuery {
  const criteria: QueryParam[] = [];
  let page: number | undefined;
  let count: number | undefined;
  for (const param of splitQuery(query)) {
    if (param.name === 'page') page = parseCounter('page', param.value);
    else if (param.name === 'count') count = parseCounter('count', param.value);
    else if (param.name === '') throw badRequest('empty query parameter name');
    else criteria.push(param);
  }
  // RFC 9176 §6.2: "page" cannot be used without "count".
  if (page !== undefined && count === undefined) throw badRequest('page needs count');
  return { criteria, page: page ?? 0, count };
}

function parseCounter(name: string, value: AttrValue): number {
  if (value === true || !/^[0-9]{1,9}$/.test(value)) throw badRequest(`${name} must be a non-negative integer`);
  return Number(value);
}

/**
 * The distinct criteria of a lookup (a repeated one tests nothing new), at most `max` of them (4.00 beyond):
 * one 60 KB datagram carried 15,000 `a=*` filters, and each one cost a pass over every link.
 */
export function distinctCriteria(criteria: readonly QueryParam[], max: number): QueryParam[] {
  const distinct = new Map<string, QueryParam>();
  for (const param of criteria) distinct.set(param.value === true ? param.name : `${param.name}=${param.value}`, param);
  if (distinct.size > max) throw badRequest(`too many lookup filters (${distinct.size}, at most ${max})`);
  return [...distinct.values()];
}
