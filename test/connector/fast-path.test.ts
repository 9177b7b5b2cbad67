import { describe, expect, it } from 'vitest';
import { gatewayFrameSchemas, parseGatewayFrame } from '../../connector/protocol/index.js';
import { seededRandom } from '../coap/seeded-random.js';

const good = { type: 'telemetry', seq: 7, device: 'k3m9xq2a', path: '/sensors/temp', ct: 50, value: { t: 1 }, ts: 5 };
/** Values each field is tried with: every type, and every bound the schema has (int, ≥ 0, ≤ 65535, 1..256 chars). */
const CANDIDATES: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  2 ** 53,
  65535,
  65536,
  '',
  'x',
  'a'.repeat(256),
  'a'.repeat(257),
  'base64',
  'hex',
  true,
  {},
  [],
  '7',
];
const FIELDS = ['seq', 'device', 'path', 'ct', 'value', 'encoding', 'ts', 'extra'];

/** What the schema alone says of a frame: the contract the fast path must not depart from. */
function bySchema(frame: Record<string, unknown>): { ok: boolean; frame?: unknown } {
  const parsed = gatewayFrameSchemas.telemetry.safeParse(frame);
  return parsed.success ? { ok: true, frame: parsed.data } : { ok: false };
}

describe('telemetry frames accepted without zod', () => {
  it('agree with the telemetry schema on every field tried with every kind of value', () => {
    const random = seededRandom(0x5eed);
    const frames: Record<string, unknown>[] = [good];
    for (const field of FIELDS) for (const value of CANDIDATES) frames.push({ ...good, [field]: value });
    for (let i = 0; i < 2000; i++) {
      const frame: Record<string, unknown> = { ...good };
      for (const field of FIELDS)
        if (random() < 0.3) frame[field] = CANDIDATES[Math.floor(random() * CANDIDATES.length)];
      frames.push(frame);
    }
    let accepted = 0;
    for (const frame of frames) {
      const expected = bySchema(frame);
      const got = parseGatewayFrame(JSON.stringify(frame));
      expect({ frame, ok: got.ok }).toEqual({ frame, ok: expected.ok });
      if (got.ok) {
        accepted++;
        expect(got.frame).toEqual(expected.frame);
      }
    }
    // Both kinds were tried: the comparison above is not vacuous.
    expect(accepted).toBeGreaterThan(100);
    expect(frames.length - accepted).toBeGreaterThan(100);
  });
});
