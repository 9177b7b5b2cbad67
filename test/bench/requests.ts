import { encodeRequest } from './load.js';

/** The RD requests the benches send, pre-encoded for load.ts. */

export const RESOURCE_QUERIES = [
  ['rt=temperature', 'count=10'],
  ['page=3', 'count=10'],
  ['if=core.a', 'count=10'],
];

/** `/rd-lookup/res` with one of three filters (`rt=`, `page`, `if=`), each `count=10`. */
export const resourceLookup = (i: number): Buffer =>
  encodeRequest({ method: 'GET', path: ['rd-lookup', 'res'], query: RESOURCE_QUERIES[i % RESOURCE_QUERIES.length]! });

/** Requests cycle over a fixed, pre-encoded set, so the generator spends its CPU on sending. */
export function cycle(count: number, make: (i: number) => Buffer): (index: number) => Buffer {
  const encoded = Array.from({ length: count }, (_, i) => make(i));
  return (index) => encoded[(index * 7919) % count]!;
}
