import type { TelemetryFrame } from './frames.js';

/**
 * Telemetry is nearly every frame a hub takes (thousands a second per gateway), and zod builds a
 * checked copy of each. A frame with exactly the telemetry fields, each of the schema's type and
 * range, is accepted as it is; anything else (an unknown key, a wrong type) goes to the schema in
 * frames.ts, which stays the contract and writes the error message. test/connector/fast-path.test.ts
 * holds the two to the same verdict and output.
 */

const TELEMETRY_KEYS = new Set(['type', 'seq', 'device', 'path', 'ct', 'value', 'encoding', 'ts']);

const count = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

export function plainTelemetry(raw: Record<string, unknown>): TelemetryFrame | undefined {
  for (const key in raw) if (!TELEMETRY_KEYS.has(key)) return undefined;
  const { device, ct, encoding } = raw;
  if (!count(raw.seq) || !count(raw.ts) || typeof raw.path !== 'string' || raw.value === undefined) return undefined;
  if (typeof device !== 'string' || device.length < 1 || device.length > 256) return undefined;
  if (ct !== null && !(count(ct) && ct <= 65535)) return undefined;
  if (encoding !== undefined && encoding !== 'base64') return undefined;
  return raw as TelemetryFrame;
}
