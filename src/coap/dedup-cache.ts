import { DEFAULT_TIMING, exchangeLifetimeMs } from './timing.js';

/** RFC 7252 §4.8.2: EXCHANGE_LIFETIME with the default transmission parameters (247 s). */
export const EXCHANGE_LIFETIME_MS = exchangeLifetimeMs(DEFAULT_TIMING);

export interface DedupCacheOptions {
  /** Entries kept at most; the oldest goes first (FIFO). */
  maxEntries?: number;
  /** Size of the byte ring the encoded replies are copied into. */
  maxBytes?: number;
  lifetimeMs?: number;
  now?: () => number;
}

/** What `begin` found for a message: a new exchange, one still being handled, or the reply sent before. */
export type DedupState = { seen: false } | { seen: true; reply: Buffer | undefined };

const NEW: DedupState = { seen: false };
const PENDING: DedupState = { seen: true, reply: undefined };

/**
 * Message deduplication (RFC 7252 §4.5): remembers, per peer and message id, the encoded reply only.
 * Bounded by entry count, bytes and time, so a flood costs a fixed amount of memory: the `coap`
 * package's unbounded cache reached 1.1 GB in 10 s at 22k requests/s (test/bench/rd.ts). Past the bounds an
 * old retransmission is executed again, which RD requests tolerate (registration replaces, lookup reads).
 *
 * Entries live in typed-array rings and replies are copied into one byte ring, so the only per-message objects
 * are the key string and its Map slot. One map for all peers, not one per peer: a fleet's every device is a
 * peer, and a Map of its own cost each about 600 bytes.
 */
export class DedupCache {
  private readonly slots = new Map<string, number>();
  private readonly keys: Array<string | undefined>;
  private readonly expires: Float64Array;
  /** Where a slot's reply starts in the byte ring, and how long it is (-1: none yet). */
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  /** Bytes ever written to the ring when the slot's reply was written: older than one ring size means overwritten. */
  private readonly writtenAt: Float64Array;
  private readonly bytes: Buffer;
  private writeOffset = 0;
  private written = 0;
  private head = 0;
  private count = 0;
  private readonly lifetimeMs: number;
  private readonly now: () => number;

  constructor(options: DedupCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 32_768;
    this.keys = new Array<string | undefined>(maxEntries);
    this.expires = new Float64Array(maxEntries);
    this.offsets = new Int32Array(maxEntries);
    this.lengths = new Int32Array(maxEntries);
    this.writtenAt = new Float64Array(maxEntries);
    this.bytes = Buffer.allocUnsafeSlow(options.maxBytes ?? 8 * 1024 * 1024);
    this.lifetimeMs = options.lifetimeMs ?? EXCHANGE_LIFETIME_MS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.slots.size;
  }

  /**
   * Looks message `id` of `peer` up (`id` is any integer the caller keys messages by, e.g. the message id plus
   * a bit for its role); a new one is recorded as pending until `complete`.
   */
  begin(peer: string, id: number): DedupState {
    const now = this.now();
    const key = keyOf(peer, id);
    const found = this.slots.get(key);
    if (found !== undefined && this.expires[found]! > now) {
      const length = this.lengths[found]!;
      if (length < 0) return PENDING;
      if (this.written - this.writtenAt[found]! <= this.bytes.length) {
        const offset = this.offsets[found]!;
        // A copy: the ring may be overwritten before the socket has sent it.
        return { seen: true, reply: Buffer.from(this.bytes.subarray(offset, offset + length)) };
      }
    }
    // One lifetime for all: the oldest entry expires first, so eviction only ever looks at the head.
    const capacity = this.keys.length;
    while (this.count > 0 && (this.count === capacity || this.expires[this.head]! <= now)) this.evictOldest();
    const slot = (this.head + this.count) % capacity;
    this.keys[slot] = key;
    this.expires[slot] = now + this.lifetimeMs;
    this.lengths[slot] = -1;
    this.count++;
    this.slots.set(key, slot);
    return NEW;
  }

  /** Records the reply sent for a message (none for a NON request answered by nothing). */
  complete(peer: string, id: number, reply: Buffer | undefined): void {
    const slot = this.slots.get(keyOf(peer, id));
    if (slot === undefined || reply === undefined || reply.length > this.bytes.length) return;
    if (this.writeOffset + reply.length > this.bytes.length) {
      // The tail too short for this reply counts as written: what sat there is as good as overwritten.
      this.written += this.bytes.length - this.writeOffset;
      this.writeOffset = 0;
    }
    reply.copy(this.bytes, this.writeOffset);
    this.offsets[slot] = this.writeOffset;
    this.lengths[slot] = reply.length;
    this.writtenAt[slot] = this.written;
    this.writeOffset += reply.length;
    this.written += reply.length;
  }

  clear(): void {
    this.slots.clear();
    this.keys.fill(undefined);
    this.head = this.count = this.writeOffset = this.written = 0;
  }

  private evictOldest(): void {
    const key = this.keys[this.head]!;
    // An expired key begun again has a newer slot further on; that one stays.
    if (this.slots.get(key) === this.head) this.slots.delete(key);
    this.keys[this.head] = undefined;
    this.head = (this.head + 1) % this.keys.length;
    this.count--;
  }
}

const keyOf = (peer: string, id: number): string => `${peer}#${id}`;
