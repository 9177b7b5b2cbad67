import type { CoapOption } from './options.js';
import { decodeUint, OptionNumber, type BlockOption } from './options.js';
import { COAP_METHODS, type CoapCode, type CoapMethod } from './types.js';

/** The options of a request the server acts on, read once at the edge. */
export interface RequestOptions {
  path: string[];
  query: string[];
  contentFormat: number | undefined;
  accept: number | undefined;
  observe: number | undefined;
  block1: BlockOption | undefined;
  block2: BlockOption | undefined;
  size1: number | undefined;
}

export type RequestOptionsResult =
  { ok: true; options: RequestOptions } | { ok: false; code: CoapCode; diagnostic: string };

/** RFC 7252 §12.1.1 method codes by their detail (code class 0): 0.01 is the first method. */
const METHODS: readonly (CoapMethod | undefined)[] = [undefined, ...COAP_METHODS];

export const methodOf = (code: string): CoapMethod | undefined =>
  code.startsWith('0.') ? METHODS[Number(code.slice(2))] : undefined;

/** Critical options the server understands: it is the host addressed (Uri-Host, Uri-Port), the rest it reads. */
const UNDERSTOOD_CRITICAL = new Set<number>([
  OptionNumber.uriHost,
  OptionNumber.uriPort,
  OptionNumber.uriPath,
  OptionNumber.uriQuery,
  OptionNumber.accept,
  OptionNumber.block2,
  OptionNumber.block1,
]);

/** RFC 7252 §5.4.6: odd option numbers are critical. */
const isCritical = (option: number): boolean => (option & 1) === 1;

/** Proxy-Uri (35) and Proxy-Scheme (39). */
const PROXY_OPTIONS = new Set<number>([35, 39]);

const fail = (code: CoapCode, diagnostic: string): RequestOptionsResult => ({ ok: false, code, diagnostic });

/** RFC 7252 §5.10 (and RFC 7641 §2, RFC 7959 §2.1, §4): the length range of each option value, in bytes. */
const LENGTHS = new Map<number, readonly [number, number]>([
  [OptionNumber.ifMatch, [0, 8]],
  [OptionNumber.uriHost, [1, 255]],
  [OptionNumber.etag, [1, 8]],
  [OptionNumber.ifNoneMatch, [0, 0]],
  [OptionNumber.observe, [0, 3]],
  [OptionNumber.uriPort, [0, 2]],
  [OptionNumber.uriPath, [0, 255]],
  [OptionNumber.contentFormat, [0, 2]],
  [OptionNumber.uriQuery, [0, 255]],
  [OptionNumber.accept, [0, 2]],
  [OptionNumber.block2, [0, 3]],
  [OptionNumber.block1, [0, 3]],
  [OptionNumber.size1, [0, 4]],
]);

/** RFC 7252 §5.4.3: a value outside its option's length range is treated like an unrecognised option. */
function badLength(number: number, value: Buffer): boolean {
  const range = LENGTHS.get(number);
  return range !== undefined && (value.length < range[0] || value.length > range[1]);
}

/** RFC 7959 §2.2: at most 3 bytes; SZX 7 is reserved (BERT exists over TCP only, RFC 8323). */
function blockOf(value: Buffer): BlockOption | undefined {
  const raw = decodeUint(value);
  if (value.length > 3 || (raw & 7) === 7) return undefined;
  return { num: raw >>> 4, more: (raw & 8) !== 0, szx: raw & 7 };
}

const uintOf = (value: Buffer): number | undefined => (value.length > 4 ? undefined : decodeUint(value));

/**
 * Reads a request's options. RFC 7252 §5.4.1: an unrecognised critical option rejects the request
 * with 4.02; §5.7.2: a server that is no proxy answers Proxy-Uri/Proxy-Scheme with 5.05;
 * §5.4.5: a repeated non-repeatable elective option is ignored beyond its first occurrence; §5.4.3: a value of
 * a length §5.10 does not allow counts as unrecognised.
 */
export function readRequestOptions(options: readonly CoapOption[]): RequestOptionsResult {
  const result: RequestOptions = {
    path: [],
    query: [],
    contentFormat: undefined,
    accept: undefined,
    observe: undefined,
    block1: undefined,
    block2: undefined,
    size1: undefined,
  };
  for (const { number, value } of options) {
    if (badLength(number, value)) {
      // §5.4.1: an unrecognised critical option is 4.02; an elective one is silently ignored.
      if (isCritical(number)) return fail('4.02', `option ${number}: ${value.length} bytes`);
      continue;
    }
    switch (number) {
      case OptionNumber.uriPath:
        result.path.push(value.toString('utf8'));
        break;
      case OptionNumber.uriQuery:
        result.query.push(value.toString('utf8'));
        break;
      case OptionNumber.contentFormat:
        result.contentFormat ??= uintOf(value);
        break;
      case OptionNumber.accept:
        if (result.accept !== undefined) return fail('4.02', 'Accept repeated');
        result.accept = uintOf(value);
        break;
      case OptionNumber.observe:
        result.observe ??= uintOf(value);
        break;
      case OptionNumber.size1:
        result.size1 ??= uintOf(value);
        break;
      case OptionNumber.block1:
      case OptionNumber.block2: {
        const block = blockOf(value);
        const name = number === OptionNumber.block1 ? 'block1' : 'block2';
        if (block === undefined || result[name] !== undefined) return fail('4.02', `bad ${name}`);
        result[name] = block;
        break;
      }
      default:
        if (PROXY_OPTIONS.has(number)) return fail('5.05', '');
        if (isCritical(number) && !UNDERSTOOD_CRITICAL.has(number)) return fail('4.02', `option ${number}`);
    }
  }
  return { ok: true, options: result };
}
