import type { AttrValue } from '../src/coap/link-format.js';
import type { QueryParam } from './query.js';

/**
 * Attributes whose value is a space-separated list (RFC 6690 §2 relation-types, RFC 9176 §9.3 `et`):
 * a query matches when it matches any one entry (RFC 6690 §4.1).
 */
const LIST_VALUED = new Set(['rt', 'if', 'rel', 'et']);

export function tokens(value: string): string[] {
  return value.split(/\s+/).filter((token) => token !== '');
}

/** A test of one attribute value; undefined means the attribute is absent. */
export type ValueTest = (value: AttrValue | undefined) => boolean;

/** One search criterion of a lookup (RFC 9176 §6.2), compiled once per request. */
export interface Criterion {
  name: string;
  test: ValueTest;
}

export function compileCriterion({ name, value }: QueryParam): Criterion {
  return { name, test: valueTest(name, value) };
}

/**
 * RFC 6690 §4.1: equal values match, a trailing `*` matches any value with that prefix,
 * and a query without `=` (a flag such as `obs`) matches when the attribute is present.
 */
export function valueTest(name: string, wanted: AttrValue): ValueTest {
  if (wanted === true) return (value) => value !== undefined;
  const single = stringTest(wanted);
  if (!LIST_VALUED.has(name)) return (value) => value !== undefined && single(value === true ? '' : value);
  return (value) => {
    if (typeof value !== 'string') return false;
    if (single(value)) return true;
    return value.includes(' ') && tokens(value).some(single);
  };
}

function stringTest(wanted: string): (value: string) => boolean {
  if (wanted.endsWith('*')) {
    const prefix = wanted.slice(0, -1);
    return (value) => value.startsWith(prefix);
  }
  return (value) => value === wanted;
}

/** True when a criterion's value asks for one exact value (an index can answer it). */
export function isExact(param: QueryParam): param is QueryParam & { value: string } {
  return typeof param.value === 'string' && !param.value.endsWith('*');
}
