import { bodyTag, sliceBlock2 } from './block.js';
import { encodeBlock, encodeUint, OptionNumber, type BlockOption, type CoapOption } from './options.js';
import type { CoapCode, CoapResponse } from './types.js';

/** A response ready for the wire: code, options in any order (the encoder sorts), payload. */
export interface WireResponse {
  code: CoapCode;
  options: CoapOption[];
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** RFC 7959 §2.3: the response completing a Block1 transfer echoes the last block; 2.31 echoes each. */
export function echoBlock1(block: BlockOption): CoapOption {
  return { number: OptionNumber.block1, value: encodeBlock(block) };
}

export function bareResponse(code: CoapCode, options: CoapOption[] = [], diagnostic = ''): WireResponse {
  // RFC 7252 §5.5.2: a diagnostic payload is UTF-8 text without Content-Format.
  return { code, options, payload: diagnostic === '' ? EMPTY : Buffer.from(diagnostic, 'utf8') };
}

const stringOptions = (number: number, values: readonly string[] | undefined, into: CoapOption[]): void => {
  for (const value of values ?? []) into.push({ number, value: Buffer.from(value, 'utf8') });
};

/**
 * Renders a handler's response. A body larger than the block size the client asked for (or the
 * server's largest, `maxBlockSzx`) is sent block-wise (RFC 7959 §2.4): the requested block with
 * Block2 and Size2.
 */
export function renderResponse(
  response: CoapResponse,
  requestedBlock: BlockOption | undefined,
  maxBlockSzx: number,
): WireResponse {
  const body =
    typeof response.payload === 'string' ? Buffer.from(response.payload, 'utf8') : (response.payload ?? EMPTY);
  const options: CoapOption[] = [];
  if (response.contentFormat !== undefined) {
    options.push({ number: OptionNumber.contentFormat, value: encodeUint(response.contentFormat) });
  }
  if (response.maxAge !== undefined) options.push({ number: OptionNumber.maxAge, value: encodeUint(response.maxAge) });
  stringOptions(OptionNumber.locationPath, response.locationPath, options);
  stringOptions(OptionNumber.locationQuery, response.locationQuery, options);
  // RFC 7959 §2.4: the server may use a smaller block than asked for; the offset stays the client's.
  const szx = Math.min(requestedBlock?.szx ?? maxBlockSzx, maxBlockSzx);
  const offset = requestedBlock === undefined ? 0 : requestedBlock.num * (16 << requestedBlock.szx);
  const blockBytes = 16 << szx;
  // Error diagnostics are short and go whole: a 4.04 for a vanished resource stays a 4.04 whatever block was asked.
  if ((body.length <= blockBytes && offset === 0) || !response.code.startsWith('2.')) {
    if (response.etag !== undefined) options.push({ number: OptionNumber.etag, value: response.etag });
    return { code: response.code, options, payload: body };
  }
  const slice = offset % blockBytes === 0 ? sliceBlock2(body, offset / blockBytes, szx) : undefined;
  if (slice === undefined) return bareResponse('4.02', [], 'Block2 out of range');
  // RFC 7252 §5.10.6.1: an ETag belongs to a representation, i.e. a 2.05 (or 2.03) response.
  const etag = response.etag ?? (response.code === '2.05' ? bodyTag(body) : undefined);
  if (etag !== undefined) options.push({ number: OptionNumber.etag, value: etag });
  options.push(
    { number: OptionNumber.block2, value: encodeBlock(slice.block) },
    { number: OptionNumber.size2, value: encodeUint(body.length) },
  );
  return { code: response.code, options, payload: slice.payload };
}
