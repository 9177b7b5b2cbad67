import { describe, expect, test } from 'vitest';
import {
  hmacOf,
  MAX_FRAME_BYTES,
  parseGatewayFrame,
  parseHubFrame,
  verifyHmac,
  type FrameProblem,
} from '../../connector/protocol/index.js';

const device = {
  id: 'd1',
  ep: 'node1',
  d: null,
  address: '127.0.0.1:5683',
  status: 'online',
  source: 'registration',
  registered: true,
  lastSeen: 1,
  resources: [{ href: '/t', attrs: { obs: true, rt: 'temp' } }],
};

/** Per frame type: a valid frame, and broken variants with the field the error must name. */
const hubCases = {
  challenge: {
    good: { type: 'challenge', nonce: 'a'.repeat(32), heartbeat: 15 },
    bad: [
      [{ type: 'challenge', nonce: 'short', heartbeat: 15 }, 'challenge.nonce'],
      [{ type: 'challenge', nonce: 'a'.repeat(32), heartbeat: 0 }, 'challenge.heartbeat'],
    ],
  },
  welcome: {
    good: { type: 'welcome', lastSeq: 0 },
    bad: [
      [{ type: 'welcome', lastSeq: -1 }, 'welcome.lastSeq'],
      [{ type: 'welcome' }, 'welcome.lastSeq'],
    ],
  },
  ack: {
    good: { type: 'ack', seq: 12 },
    bad: [[{ type: 'ack', seq: 1.5 }, 'ack.seq']],
  },
  command: {
    good: {
      type: 'command',
      id: 'c1',
      device: 'd1',
      method: 'GET',
      path: '/a',
      query: ['x=1'],
      accept: 50,
      timeout: 10,
    },
    bad: [
      [{ type: 'command', id: 'c1', device: 'd1', method: 'GET', path: 'a' }, 'command.path'],
      [{ type: 'command', id: 'c1', device: 'd1', method: 'get', path: '/a' }, 'command.method'],
      [{ type: 'command', id: '', device: 'd1', method: 'GET', path: '/a' }, 'command.id'],
      [{ type: 'command', id: 'c1', device: 'd1', method: 'PUT', path: '/a', encoding: 'hex' }, 'command.encoding'],
      [{ type: 'command', id: 'c1', device: 'd1', method: 'PUT', path: '/a', ct: 70000 }, 'command.ct'],
    ],
  },
  error: {
    good: { type: 'error', code: 'invalid_frame', message: 'm', ref: 'c1' },
    bad: [[{ type: 'error', message: 'm' }, 'error.code']],
  },
} as const;

const gatewayCases = {
  hello: {
    good: { type: 'hello', gateway: 'gw', hmac: hmacOf('nonce', 'secret') },
    bad: [[{ type: 'hello', gateway: 'gw', hmac: 'ABC' }, 'hello.hmac']],
  },
  event: {
    good: { type: 'event', seq: 1, name: 'device.removed', reason: 'expired', device, ts: 5 },
    bad: [
      [{ type: 'event', seq: 1, name: 'device.exploded', device, ts: 5 }, 'event.name'],
      [
        { type: 'event', seq: 1, name: 'device.online', device: { ...device, status: 'up' }, ts: 5 },
        'event.device.status',
      ],
    ],
  },
  telemetry: {
    good: { type: 'telemetry', seq: 2, device: 'd1', path: '/t', ct: null, value: null, ts: 5 },
    bad: [
      [{ type: 'telemetry', seq: 2, device: 'd1', path: '/t', ct: 50, ts: 5 }, 'telemetry.value'],
      [{ type: 'telemetry', seq: '2', device: 'd1', path: '/t', ct: 50, value: 1, ts: 5 }, 'telemetry.seq'],
    ],
  },
  snapshot: {
    good: { type: 'snapshot', seq: 3, devices: [device] },
    bad: [
      [
        { type: 'snapshot', devices: [{ ...device, resources: [{ href: '/x', attrs: { obs: false } }] }] },
        'snapshot.devices.0.resources.0.attrs.obs',
      ],
    ],
  },
  result: {
    good: { type: 'result', id: 'c1', code: '2.05', ct: 0, payload: '' },
    bad: [
      [{ type: 'result', id: 'c1', code: '205', ct: 0, payload: '' }, 'result.code'],
      [{ type: 'result', id: 'c1', code: '2.05', ct: 0 }, 'result.payload'],
      [{ type: 'result', id: 'c1', error: { code: 'boom', message: 'm' } }, 'result.error.code'],
    ],
  },
  error: {
    good: { type: 'error', code: 'unexpected_frame', message: 'm' },
    bad: [[{ type: 'error', code: 'x' }, 'error.message']],
  },
} as const;

type Parse = typeof parseHubFrame | typeof parseGatewayFrame;
type Cases = Record<string, { good: object; bad: readonly (readonly [object, string])[] }>;

function problemOf(parse: Parse, frame: unknown): FrameProblem {
  const parsed = parse(JSON.stringify(frame));
  if (parsed.ok) throw new Error(`accepted ${JSON.stringify(frame)}`);
  return parsed.error;
}

describe.each([
  ['hub → gateway', parseHubFrame as Parse, hubCases as Cases],
  ['gateway → hub', parseGatewayFrame as Parse, gatewayCases as Cases],
] as const)('%s', (_direction, parse, cases) => {
  for (const [type, { good, bad }] of Object.entries(cases)) {
    test(`${type}: a valid frame parses as itself`, () => {
      expect(parse(JSON.stringify(good))).toEqual({ ok: true, frame: good });
    });
    test.each(bad.map(([frame, field]) => [field, frame] as const))(`${type}: refuses a bad %s`, (field, frame) => {
      const problem = problemOf(parse, frame);
      expect(problem.code).toBe('invalid_frame');
      expect(problem.message).toContain(`${field}:`);
    });
  }

  test('a frame type of the other direction is unknown here', () => {
    const other = parse === parseHubFrame ? { type: 'hello' } : { type: 'challenge' };
    expect(problemOf(parse, other).code).toBe('unknown_type');
  });
});

describe('any direction', () => {
  test.each([
    ['not JSON', '{"type":', 'invalid_json'],
    ['an array', '[1]', 'invalid_frame'],
    ['no type', '{"seq":1}', 'unknown_type'],
    ['a prototype key as type', '{"type":"constructor"}', 'unknown_type'],
  ])('%s is refused', (_name, text, code) => {
    const parsed = parseGatewayFrame(text);
    expect(parsed.ok ? 'accepted' : parsed.error.code).toBe(code);
  });

  test('binary frames and frames over the size limit are refused by name', () => {
    const binary = parseHubFrame(Buffer.from('{"type":"ack","seq":1}'), true);
    expect(binary.ok ? 'accepted' : binary.error.code).toBe('binary_frame');
    const big = JSON.stringify({ type: 'ack', seq: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) });
    const oversized = parseHubFrame(Buffer.from(big));
    expect(oversized.ok ? 'accepted' : oversized.error.code).toBe('frame_too_large');
  });

  test('ws fragments and ArrayBuffers are read like one text', () => {
    const text = '{"type":"ack","seq":7}';
    expect(parseHubFrame([Buffer.from(text.slice(0, 5)), Buffer.from(text.slice(5))])).toMatchObject({ ok: true });
    const bytes = new TextEncoder().encode(text);
    expect(parseHubFrame(bytes.buffer as ArrayBuffer)).toMatchObject({ ok: true, frame: { seq: 7 } });
  });

  test('a refused command is referenced by its id so the hub can fail that command', () => {
    const problem = problemOf(parseHubFrame, { type: 'command', id: 'c9', device: 'd', method: 'GET' });
    expect(problem.ref).toBe('c9');
  });

  test('extra keys are ignored, not passed on', () => {
    expect(parseHubFrame('{"type":"ack","seq":3,"future":true}')).toEqual({ ok: true, frame: { type: 'ack', seq: 3 } });
  });
});

describe('hmac', () => {
  test('is HMAC-SHA256 hex of the nonce under the secret (RFC 4231 test case 2)', () => {
    expect(hmacOf('what do ya want for nothing?', 'Jefe')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  test('verifies only the right secret and nonce, and survives garbage', () => {
    const hmac = hmacOf('n1', 's1');
    expect(verifyHmac('n1', 's1', hmac)).toBe(true);
    expect(verifyHmac('n1', 's2', hmac)).toBe(false);
    expect(verifyHmac('n2', 's1', hmac)).toBe(false);
    expect(verifyHmac('n1', 's1', 'zz')).toBe(false);
  });
});
