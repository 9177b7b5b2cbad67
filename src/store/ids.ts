import { randomFillSync } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * Random bytes drawn from the OS a pool at a time: one `randomBytes` call per id cost about as much as
 * the rest of a registration's bookkeeping (a syscall and a Buffer each), at thousands of ids per second.
 */
const pool = Buffer.alloc(4096);
let used = pool.length;

/**
 * Short, URI-safe, unambiguous ids (40 random bits). Short because registration locations
 * are `/rd/<id>` and constrained clients keep them in small buffers (RIOT cord_ep: 64 bytes).
 */
export function newId(length = 8): string {
  if (used + length > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let id = '';
  for (let i = 0; i < length; i++) id += ALPHABET[pool[used + i]! & 31];
  used += length;
  return id;
}
