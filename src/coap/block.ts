import { blockSize, type BlockOption } from './options.js';
import type { CoapResponse } from './types.js';

/** Block1 reassembly outcome: a complete body, a request for the next block, or an error code. */
export type Block1Result =
  { state: 'complete'; payload: Buffer } | { state: 'continue' } | { state: 'incomplete' } | { state: 'too-large' };

export interface Block1AssemblerOptions {
  maxPayloadBytes: number;
  /** Transfers in progress at most; the oldest is dropped first. */
  maxTransfers?: number;
  /** A transfer idle for longer is forgotten (RFC 7959 §2.5 leaves the timeout to the server). */
  idleMs?: number;
  now?: () => number;
}

interface Transfer {
  chunks: Buffer[];
  received: number;
  expires: number;
}

/**
 * Atomic Block1 reassembly (RFC 7959 §2.5): blocks of one request body, in order, keyed by peer and
 * request target; the handler only ever sees the whole body. Bounded by transfers, bytes and idle time.
 */
export class Block1Assembler {
  private readonly transfers = new Map<string, Transfer>();
  private readonly maxTransfers: number;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: Block1AssemblerOptions) {
    this.maxTransfers = options.maxTransfers ?? 256;
    this.idleMs = options.idleMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.transfers.size;
  }

  add(key: string, block: BlockOption, payload: Buffer): Block1Result {
    const now = this.now();
    this.evict(now);
    const offset = block.num * blockSize(block.szx);
    const transfer = block.num === 0 ? newTransfer() : this.transfers.get(key);
    this.transfers.delete(key);
    // RFC 7959 §2.3: a block that does not continue what we hold is answered 4.08.
    if (transfer === undefined || transfer.received !== offset) return { state: 'incomplete' };
    // RFC 7959 §2.2: every block but the last carries exactly the announced block size.
    if (block.more && payload.length !== blockSize(block.szx)) return { state: 'incomplete' };
    if (transfer.received + payload.length > this.options.maxPayloadBytes) return { state: 'too-large' };
    transfer.chunks.push(payload);
    transfer.received += payload.length;
    if (!block.more) return { state: 'complete', payload: Buffer.concat(transfer.chunks, transfer.received) };
    transfer.expires = now + this.idleMs;
    this.transfers.set(key, transfer);
    return { state: 'continue' };
  }

  clear(): void {
    this.transfers.clear();
  }

  /** Re-inserting on every block keeps the map in expiry order. */
  private evict(now: number): void {
    for (const [key, transfer] of this.transfers) {
      if (transfer.expires > now && this.transfers.size < this.maxTransfers) return;
      this.transfers.delete(key);
    }
  }
}

const newTransfer = (): Transfer => ({ chunks: [], received: 0, expires: 0 });

/** One block of a response body (RFC 7959 §2.4); undefined when `num` lies past the body. */
export function sliceBlock2(
  body: Buffer,
  num: number,
  szx: number,
): { payload: Buffer; block: BlockOption } | undefined {
  const size = blockSize(szx);
  const start = num * size;
  if (start >= body.length && !(start === 0 && body.length === 0)) return undefined;
  const end = Math.min(start + size, body.length);
  return { payload: body.subarray(start, end), block: { num, more: end < body.length, szx } };
}

interface KeptBody {
  response: CoapResponse & { payload: Buffer };
  expires: number;
}

/**
 * Bodies being served block-wise, kept briefly per peer and request so later blocks are sliced from
 * the same representation (one ETag, RFC 7959 §2.4) instead of re-running the handler per block,
 * which for a large lookup would cost its whole work again for each of hundreds of blocks.
 * Bounded by bytes and time; a miss just runs the handler again.
 */
export class Block2Cache {
  private readonly entries = new Map<string, KeptBody>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = 4 * 1024 * 1024,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): CoapResponse | undefined {
    const kept = this.entries.get(key);
    return kept !== undefined && kept.expires > this.now() ? kept.response : undefined;
  }

  /** Keeps a 2.05 body larger than one block, with an ETag of its bytes; returns what is to be served. */
  keep(keyOf: () => string, response: CoapResponse, blockBytes: number): CoapResponse {
    const text = response.payload;
    // A string of n UTF-16 units takes at most 3n bytes of UTF-8: most bodies are known to fit before any encoding.
    if (response.code !== '2.05' || text === undefined || (typeof text === 'string' && text.length * 3 <= blockBytes)) {
      return response;
    }
    const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    if (payload.length <= blockBytes) return response;
    const key = keyOf();
    const kept = { ...response, payload, etag: response.etag ?? bodyTag(payload) };
    if (payload.length > this.maxBytes / 4) return kept;
    this.forget(key);
    const now = this.now();
    for (const [oldKey, old] of this.entries) {
      if (old.expires > now && this.bytes + payload.length <= this.maxBytes) break;
      this.forget(oldKey);
    }
    this.entries.set(key, { response: kept, expires: now + this.ttlMs });
    this.bytes += payload.length;
    return kept;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private forget(key: string): void {
    const kept = this.entries.get(key);
    if (kept === undefined) return;
    this.entries.delete(key);
    this.bytes -= kept.response.payload.length;
  }
}

/** FNV-1a of a body: a stable ETag, so a client sees whether blocks belong together (RFC 7959 §2.4). */
export function bodyTag(body: Buffer): Buffer {
  let hash = 0x811c9dc5;
  for (const byte of body) hash = Math.imul(hash ^ byte, 0x01000193);
  const tag = Buffer.allocUnsafe(4);
  tag.writeUInt32BE(hash >>> 0);
  return tag;
}
