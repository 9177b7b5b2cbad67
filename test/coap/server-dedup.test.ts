import { describe, expect, it } from 'vitest';
import { DedupCache } from '../../src/coap/dedup-cache.js';

describe('DedupCache (RFC 7252 §4.5), bounded', () => {
  it('reports a message as new, then pending, then with its reply', () => {
    const cache = new DedupCache();
    expect(cache.begin('[::1]:5683', 7)).toEqual({ seen: false });
    expect(cache.begin('[::1]:5683', 7)).toEqual({ seen: true, reply: undefined });
    cache.complete('[::1]:5683', 7, Buffer.from('reply'));
    expect(cache.begin('[::1]:5683', 7)).toEqual({ seen: true, reply: Buffer.from('reply') });
  });

  it('forgets entries after the lifetime, and a key begun again lives its new lifetime', () => {
    let now = 0;
    const cache = new DedupCache({ lifetimeMs: 1000, now: () => now });
    cache.begin('p', 1);
    cache.complete('p', 1, Buffer.from('old'));
    now = 1000;
    expect(cache.begin('p', 1)).toEqual({ seen: false });
    now = 1500;
    cache.begin('p', 2);
    expect(cache.begin('p', 1)).toEqual({ seen: true, reply: undefined });
    now = 2000;
    expect(cache.begin('p', 1)).toEqual({ seen: false });
  });

  it('keeps at most maxEntries, dropping the oldest first', () => {
    const cache = new DedupCache({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) cache.begin(`p${i % 7}`, i);
    expect(cache.size).toBe(100);
    expect(cache.begin('p5', 999)).toEqual({ seen: true, reply: undefined });
    expect(cache.begin('p0', 0)).toEqual({ seen: false });
  });

  it('tells peers apart: the same message id from two peers is two messages', () => {
    const cache = new DedupCache();
    expect(cache.begin('[::1]:5683', 7)).toEqual({ seen: false });
    expect(cache.begin('[::1]:5684', 7)).toEqual({ seen: false });
    cache.complete('[::1]:5684', 7, Buffer.from('second'));
    expect(cache.begin('[::1]:5683', 7)).toEqual({ seen: true, reply: undefined });
    expect(cache.begin('[::1]:5684', 7)).toEqual({ seen: true, reply: Buffer.from('second') });
  });

  it('keeps replies in a byte ring of maxBytes: an overwritten reply makes its message new again', () => {
    const cache = new DedupCache({ maxBytes: 10_000 });
    const reply = (i: number) => Buffer.alloc(900, i);
    for (let i = 0; i < 100; i++) {
      cache.begin(`p${i % 7}`, i);
      cache.complete(`p${i % 7}`, i, reply(i));
    }
    // 900-byte replies fill 9,000 bytes of the ring, then wrap: the last 11 are whole.
    for (let i = 89; i < 100; i++) expect(cache.begin(`p${i % 7}`, i)).toEqual({ seen: true, reply: reply(i) });
    expect(cache.begin('p4', 88)).toEqual({ seen: false });
    expect(cache.begin('p0', 0)).toEqual({ seen: false });
  });
});
