import { randomBytes } from 'node:crypto';
import type { OutgoingRequest, Received } from './exchange.js';
import {
  blockSize,
  decodeBlock,
  encodeBlock,
  encodeUint,
  findOption,
  OptionNumber,
  szxFor,
  type BlockOption,
} from './options.js';

/** Performs one request/response exchange; block-wise transfer is a sequence of them (RFC 7959 §2). */
export type Send = (request: OutgoingRequest) => Promise<Received>;

/** The representation changed between blocks (ETag differs, RFC 7959 §2.4), or the blocks do not add up. */
export class BlockwiseError extends Error {
  override name = 'BlockwiseError';
}

function blockOf(received: Received, number: number): BlockOption | undefined {
  const value = findOption(received.message.options, number);
  return value === undefined ? undefined : decodeBlock(value);
}

const withoutOptions = (request: OutgoingRequest, numbers: readonly number[]): OutgoingRequest['options'] =>
  request.options.filter((option) => !numbers.includes(option.number));

/**
 * Sends `request`, in Block1 blocks when its payload exceeds `maxBlockBytes` (or when the server answers
 * 4.13 Request Entity Too Large, RFC 7959 §2.9.3), then fetches the remaining Block2 blocks of the response.
 */
export async function requestBlockwise(send: Send, request: OutgoingRequest, maxBlockBytes: number): Promise<Received> {
  const oversized = request.payload.length > maxBlockBytes;
  let response = oversized ? await upload(send, request, szxFor(maxBlockBytes)) : await send(request);
  if (!oversized && response.message.code === '4.13' && request.payload.length > blockSize(0)) {
    const hint = blockOf(response, OptionNumber.block1);
    response = await upload(send, request, hint?.szx ?? szxFor(request.payload.length - 1));
  }
  return downloadRest(send, request, response);
}

/** RFC 7959 §2.5: Block1 blocks, each answered by 2.31 Continue; a smaller SZX in the answer is used from then on. */
async function upload(send: Send, request: OutgoingRequest, initialSzx: number): Promise<Received> {
  const { payload } = request;
  let szx = initialSzx;
  let offset = 0;
  const requestTag = { number: OptionNumber.requestTag, value: randomBytes(4) };
  for (;;) {
    const size = blockSize(szx);
    const block = { num: offset / size, more: offset + size < payload.length, szx };
    const options = [...request.options, { number: OptionNumber.block1, value: encodeBlock(block) }, requestTag];
    // RFC 7959 §4: Size1 announces the total so a server can refuse early with 4.13.
    if (offset === 0) options.push({ number: OptionNumber.size1, value: encodeUint(payload.length) });
    const response = await send({ ...request, options, payload: payload.subarray(offset, offset + size) });
    if (!block.more || response.message.code !== '2.31') return response;
    offset += size;
    const granted = blockOf(response, OptionNumber.block1);
    if (granted !== undefined && granted.szx < szx) szx = granted.szx;
  }
}

/**
 * RFC 7959 §2.4: while the last block says "more", asks for the block at the next offset (same method and
 * options, no payload, no Observe — §2.6) and concatenates. The result keeps the first block's options.
 */
export async function downloadRest(send: Send, request: OutgoingRequest, first: Received): Promise<Received> {
  let block = blockOf(first, OptionNumber.block2);
  if (block === undefined || !block.more || !first.message.code.startsWith('2.')) return first;
  const etag = findOption(first.message.options, OptionNumber.etag);
  const baseOptions = withoutOptions(request, [
    OptionNumber.block1,
    OptionNumber.block2,
    OptionNumber.size1,
    OptionNumber.observe,
  ]);
  const parts = [first.message.payload];
  let offset = block.num * blockSize(block.szx) + first.message.payload.length;
  while (block.more) {
    const size = blockSize(block.szx);
    if (offset % size !== 0)
      throw new BlockwiseError(`block of ${first.message.payload.length} bytes does not fill SZX ${block.szx}`);
    const next = { num: offset / size, more: false, szx: block.szx };
    const options = [...baseOptions, { number: OptionNumber.block2, value: encodeBlock(next) }];
    const received = await send({ ...request, options, payload: Buffer.alloc(0) });
    if (!received.message.code.startsWith('2.')) return received;
    const nextEtag = findOption(received.message.options, OptionNumber.etag);
    if (etag !== undefined && nextEtag !== undefined && !etag.equals(nextEtag)) {
      throw new BlockwiseError('representation changed during block-wise transfer (ETag differs)');
    }
    const answered = blockOf(received, OptionNumber.block2);
    // A server that ignores Block2 sends the whole representation at once.
    if (answered === undefined) return received;
    if (answered.num * blockSize(answered.szx) !== offset)
      throw new BlockwiseError(`server sent block ${answered.num}, not the one at offset ${offset}`);
    parts.push(received.message.payload);
    offset += received.message.payload.length;
    block = answered;
  }
  return { source: first.source, message: { ...first.message, payload: Buffer.concat(parts) } };
}
