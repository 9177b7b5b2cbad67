import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 (hex) of the hub's nonce under the gateway's secret: proves the secret without sending it. */
export function hmacOf(nonce: string, secret: string): string {
  return createHmac('sha256', secret).update(nonce, 'utf8').digest('hex');
}

/** Constant-time check of a `hello`'s hmac against the expected secret. */
export function verifyHmac(nonce: string, secret: string, hmac: string): boolean {
  const expected = Buffer.from(hmacOf(nonce, secret), 'hex');
  const given = Buffer.from(hmac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
