/** CoAP option numbers this project reads or writes (RFC 7252 §5.10, RFC 7641 §2, RFC 7959 §2.1, §4, RFC 9175). */
export const OptionNumber = {
  ifMatch: 1,
  uriHost: 3,
  etag: 4,
  ifNoneMatch: 5,
  observe: 6,
  uriPort: 7,
  locationPath: 8,
  uriPath: 11,
  contentFormat: 12,
  maxAge: 14,
  uriQuery: 15,
  accept: 17,
  locationQuery: 20,
  block2: 23,
  block1: 27,
  size2: 28,
  size1: 60,
  /** RFC 9175 §3: ties the blocks of one Block1 transfer together. */
  requestTag: 292,
} as const;

export interface CoapOption {
  number: number;
  value: Buffer;
}

/** RFC 7252 §3.2 uint: big-endian, shortest form (zero is the empty string). */
export function encodeUint(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`not a CoAP uint: ${value}`);
  if (value === 0) return Buffer.alloc(0);
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from(bytes);
}

export function decodeUint(value: Buffer): number {
  let out = 0;
  for (const byte of value) out = out * 256 + byte;
  return out;
}

/** A Block1/Block2 option value (RFC 7959 §2.2): block number, more flag, size exponent (size = 2^(szx+4)). */
export interface BlockOption {
  num: number;
  more: boolean;
  szx: number;
}

export const blockSize = (szx: number): number => 1 << (szx + 4);

/** The largest SZX whose block fits `bytes` (16 … 1024; 7 is reserved for BERT). */
export function szxFor(bytes: number): number {
  let szx = 6;
  while (szx > 0 && blockSize(szx) > bytes) szx--;
  return szx;
}

export function encodeBlock(block: BlockOption): Buffer {
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}

export function decodeBlock(value: Buffer): BlockOption {
  const raw = decodeUint(value);
  return { num: Math.floor(raw / 16), more: (raw & 8) !== 0, szx: raw & 7 };
}

/** `/a/b%20c` → Uri-Path segments `['a', 'b c']`; the root yields none (RFC 7252 §6.4 step 8). */
export function pathSegments(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => decodeURIComponent(segment));
}

export function stringOptions(number: number, values: readonly string[]): CoapOption[] {
  return values.map((value) => ({ number, value: Buffer.from(value, 'utf8') }));
}

export function findOption(options: readonly CoapOption[], number: number): Buffer | undefined {
  return options.find((option) => option.number === number)?.value;
}

export function uintOption(options: readonly CoapOption[], number: number): number | undefined {
  const value = findOption(options, number);
  return value === undefined ? undefined : decodeUint(value);
}

export function allStrings(options: readonly CoapOption[], number: number): string[] {
  return options.filter((option) => option.number === number).map((option) => option.value.toString('utf8'));
}
