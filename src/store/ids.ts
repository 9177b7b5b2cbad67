import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/**
 * Short, URI-safe, unambiguous ids (40 random bits). Short because registration locations
 * are `/rd/<id>` and constrained clients keep them in small buffers (RIOT cord_ep: 64 bytes).
 */
export function newId(length = 8): string {
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += ALPHABET[byte & 31];
  return id;
}
