import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Compares secrets in constant time. Both sides are hashed first so that their lengths,
 * which timingSafeEqual would otherwise reveal by throwing, stay private too.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The API key a request carries: `X-API-Key`, `Authorization: Bearer <key>`,
 * `Authorization: OAuth <key>` (Cometa's scheme), or the `apiKey` query parameter (for browsers' WebSockets).
 */
export function apiKeyOf(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (authorization) return authorization[1]!.trim();
  return url.searchParams.get('apiKey') ?? undefined;
}

export function isAuthorized(req: IncomingMessage, url: URL, apiKey: string): boolean {
  const given = apiKeyOf(req, url);
  return given !== undefined && secretsEqual(given, apiKey);
}
