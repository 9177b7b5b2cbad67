import { describe, expect, it } from 'vitest';
import { gatewayFrameSchemas, parseGatewayFrame } from '../../connector/protocol/index.js';
import { seededRandom } from '../coap/seeded-random.js';

/** Values each field is tried with: every type, and every bound the schemas have (int, ≥ 0, ≤ 65535, 1..256 chars). */
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
  false,
  {},
  [],
  '7',
];

type Path = readonly (string | number)[];

/** A copy of `frame` with the value at `path` replaced (undefined: the key removed, as JSON would have it). */
function withValue(frame: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(frame) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) return copy;
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  // An own property even for `__proto__`, as JSON.parse makes it.
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/**
 * Frames made from `good` with every path tried with every candidate, alone and at random together: the fast
 * path's verdict and output must be the schema's for each, and both verdicts must occur often enough that the
 * comparison is not vacuous.
 */
function expectSameVerdicts(type: 'telemetry' | 'event', good: object, paths: Path[], candidates: unknown[]): void {
  const random = seededRandom(0x5eed);
  const frames: unknown[] = [good];
  for (const path of paths) for (const value of candidates) frames.push(withValue(good, path, value));
  for (let i = 0; i < 3000; i++) {
    let frame: unknown = good;
    for (const path of paths)
      if (random() < 0.3 / Math.sqrt(paths.length / 8))
        frame = withValue(frame, path, candidates[Math.floor(random() * candidates.length)]);
    frames.push(frame);
  }
  let accepted = 0;
  for (const frame of frames) {
    const text = JSON.stringify(frame);
    const expected = gatewayFrameSchemas[type].safeParse(JSON.parse(text));
    const got = parseGatewayFrame(text);
    expect({ frame, ok: got.ok }).toEqual({ frame, ok: expected.success });
    if (got.ok) {
      accepted++;
      expect(got.frame).toEqual(expected.data);
    }
  }
  expect(accepted).toBeGreaterThan(100);
  expect(frames.length - accepted).toBeGreaterThan(100);
}

describe('frames accepted without zod', () => {
  it('telemetry agrees with its schema on every field tried with every kind of value', () => {
    const good = {
      type: 'telemetry',
      seq: 7,
      device: 'k3m9xq2a',
      path: '/sensors/temp',
      ct: 50,
      value: { t: 1 },
      ts: 5,
    };
    const paths = ['seq', 'device', 'path', 'ct', 'value', 'encoding', 'ts', 'extra'].map((field) => [field]);
    expectSameVerdicts('telemetry', good, paths, CANDIDATES);
  });

  it('device events agree with their schema on every field, nested ones included', () => {
    const link = { href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } };
    const registration = {
      base: 'coap://[fd00::1]:5683',
      lt: 300,
      et: null,
      attrs: { x: '1' },
      updatedAt: 1,
      expiresAt: 2,
    };
    const device = {
      id: 'k3m9xq2a',
      ep: 'node-1',
      d: null,
      address: '[fd00::1]:5683',
      status: 'online',
      source: 'registration',
      registered: true,
      lastSeen: 5,
      resources: [link, { href: '/cfg', attrs: {} }],
      registration,
      sleepy: false,
    };
    const good = { type: 'event', seq: 7, name: 'device.registered', device, ts: 5 };
    const paths: Path[] = [
      ...['seq', 'name', 'device', 'reason', 'ts', 'extra'].map((field) => [field]),
      ...[...Object.keys(device), 'extra'].map((field) => ['device', field]),
      ...['href', 'attrs', 'extra'].map((field) => ['device', 'resources', 0, field]),
      ['device', 'resources', 1],
      ...['rt', 'obs', '__proto__'].map((name) => ['device', 'resources', 0, 'attrs', name]),
      ...[...Object.keys(registration), 'extra'].map((field) => ['device', 'registration', field]),
      ...['x', '__proto__'].map((name) => ['device', 'registration', 'attrs', name]),
    ];
    const values = [
      ...CANDIDATES,
      'device.removed',
      'expired',
      'asleep',
      'simple',
      [link],
      link,
      registration,
      device,
      JSON.parse('{"__proto__": "x"}'),
    ];
    expectSameVerdicts('event', good, paths, values);
  });
});
