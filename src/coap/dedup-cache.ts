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
 * Entries live in typed-array rings and replies are copied into one byte ring; a message is found by its peer
 * (one small map of message ids per peer) and its id, a small integer. So no per-message object survives into
 * V8's old space, which under load is what makes the heap (and RSS) grow and the full collections come: a key
 * string per message, kept for EXCHANGE_LIFETIME, made a third of the gateway's CPU under lookups garbage
 * collection.
 */
export class DedupCache {
  private readonly peers = new Map<string, PeerEntries>();
  /** Each slot's peer map and id (the key it is found by). */
  private readonly owners: Array<PeerEntries | undefined>;
  private readonly ids: Int32Array;
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
    this.owners = new Array<PeerEntries | undefined>(maxEntries);
    this.ids = new Int32Array(maxEntries);
    this.expires = new Float64Array(maxEntries);
    this.offsets = new Int32Array(maxEntries);
    this.lengths = new Int32Array(maxEntries);
    this.writtenAt = new Float64Array(maxEntries);
    this.bytes = Buffer.allocUnsafeSlow(options.maxBytes ?? 8 * 1024 * 1024);
    this.lifetimeMs = options.lifetimeMs ?? EXCHANGE_LIFETIME_MS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    let size = 0;
    for (const entries of this.peers.values()) size += entries.size;
    return size;
  }

  /**
   * Looks message `id` of `peer` up (`id` is any integer the caller keys messages by, e.g. the message id plus
   * a bit for its role); a new one is recorded as pending until `complete`.
   */
  begin(peer: string, id: number): DedupState {
    const now = this.now();
    const found = this.peers.get(peer)?.get(id);
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
    const capacity = this.owners.length;
    while (this.count > 0 && (this.count === capacity || this.expires[this.head]! <= now)) this.evictOldest();
    const slot = (this.head + this.count) % capacity;
    let entries = this.peers.get(peer);
    if (entries === undefined) this.peers.set(peer, (entries = new PeerEntries(peer)));
    this.owners[slot] = entries;
    this.ids[slot] = id;
    this.expires[slot] = now + this.lifetimeMs;
    this.lengths[slot] = -1;
    this.count++;
    entries.set(id, slot);
    return NEW;
  }

  /** Records the reply sent for a message (none for a NON request answered by nothing). */
  complete(peer: string, id: number, reply: Buffer | undefined): void {
    const slot = this.peers.get(peer)?.get(id);
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
    this.peers.clear();
    this.owners.fill(undefined);
    this.head = this.count = this.writeOffset = this.written = 0;
  }

  private evictOldest(): void {
    const entries = this.owners[this.head]!;
    const id = this.ids[this.head]!;
    // An expired message begun again has a newer slot further on; that one stays.
    if (entries.get(id) === this.head) {
      entries.delete(id);
      if (entries.size === 0) this.peers.delete(entries.peer);
    }
    this.owners[this.head] = undefined;
    this.head = (this.head + 1) % this.owners.length;
    this.count--;
  }
}

/** One peer's messages: id → slot. */
class PeerEntries extends Map<number, number> {
  constructor(readonly peer: string) {
    super();
  }
}
