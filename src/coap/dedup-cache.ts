/** RFC 7252 §4.8.2: EXCHANGE_LIFETIME with the default transmission parameters. */
export const EXCHANGE_LIFETIME_MS = 247_000;

export interface DedupCacheOptions {
  /** Entries kept at most; the oldest goes first (FIFO). */
  maxEntries?: number;
  /** Encoded response bytes kept at most, summed over entries. */
  maxBytes?: number;
  lifetimeMs?: number;
  now?: () => number;
}

/** What `begin` found for a message: a new exchange, one still being handled, or the reply sent before. */
export type DedupState = { seen: false } | { seen: true; reply: Buffer | undefined };

interface Entry {
  reply: Buffer | undefined;
  expires: number;
}

const NEW: DedupState = { seen: false };
const PENDING: DedupState = { seen: true, reply: undefined };

/**
 * Message deduplication (RFC 7252 §4.5): remembers, per peer and message id, the encoded reply only.
 * Bounded by entry count, bytes and time, so a flood costs a fixed amount of memory: the `coap`
 * package's unbounded cache reached 1.1 GB in 10 s at 22k requests/s (issue 2). Past the bounds an
 * old retransmission is executed again, which RD requests tolerate (registration replaces, lookup reads).
 */
export class DedupCache {
  private readonly entries = new Map<string, Entry>();
  /** Insertion order as a ring (a Map iterated from its start after many deletes walks their holes). */
  private readonly ringKeys: Array<string | undefined>;
  private readonly ringEntries: Array<Entry | undefined>;
  private head = 0;
  private count = 0;
  private readonly maxBytes: number;
  private readonly lifetimeMs: number;
  private readonly now: () => number;
  private bytes = 0;

  constructor(options: DedupCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 20_000;
    this.ringKeys = new Array<string | undefined>(maxEntries);
    this.ringEntries = new Array<Entry | undefined>(maxEntries);
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.lifetimeMs = options.lifetimeMs ?? EXCHANGE_LIFETIME_MS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Looks the message up; a new one is recorded as pending until `complete`. */
  begin(key: string): DedupState {
    const now = this.now();
    const found = this.entries.get(key);
    if (found !== undefined && found.expires > now) {
      return found.reply === undefined ? PENDING : { seen: true, reply: found.reply };
    }
    // One lifetime for all: the oldest entry expires first, so eviction only ever looks at the head.
    while (this.count > 0 && (this.count === this.ringKeys.length || this.ringEntries[this.head]!.expires <= now)) {
      this.evictOldest();
    }
    const entry: Entry = { reply: undefined, expires: now + this.lifetimeMs };
    const tail = (this.head + this.count) % this.ringKeys.length;
    this.ringKeys[tail] = key;
    this.ringEntries[tail] = entry;
    this.count++;
    this.entries.set(key, entry);
    return NEW;
  }

  /** Records the reply sent for a message (none for a NON request answered by nothing). */
  complete(key: string, reply: Buffer | undefined): void {
    const entry = this.entries.get(key);
    if (entry === undefined || reply === undefined) return;
    entry.reply = reply;
    this.bytes += reply.length;
    while (this.bytes > this.maxBytes && this.count > 0) this.evictOldest();
  }

  clear(): void {
    this.entries.clear();
    this.ringKeys.fill(undefined);
    this.ringEntries.fill(undefined);
    this.head = this.count = this.bytes = 0;
  }

  private evictOldest(): void {
    const key = this.ringKeys[this.head]!;
    const entry = this.ringEntries[this.head]!;
    this.ringKeys[this.head] = this.ringEntries[this.head] = undefined;
    this.head = (this.head + 1) % this.ringKeys.length;
    this.count--;
    if (entry.reply !== undefined) this.bytes -= entry.reply.length;
    // An expired key begun again has a newer entry further back in the ring; that one stays.
    if (this.entries.get(key) === entry) this.entries.delete(key);
  }
}
