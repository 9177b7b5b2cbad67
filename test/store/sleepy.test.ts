import { describe, expect, it } from 'vitest';
import { SleepyClassifier, type Registration } from '../../src/store/index.js';

const reg = (change: Partial<Registration>): Registration => ({
  deviceId: 'd1',
  ep: 'node-1',
  d: null,
  base: 'coap://127.0.0.1:5683',
  baseExplicit: false,
  lt: 300,
  et: null,
  attrs: {},
  links: [],
  discovered: false,
  createdAt: 0,
  updatedAt: 0,
  expiresAt: 300_000,
  ...change,
});

describe('SleepyClassifier', () => {
  const plain = new SleepyClassifier({ awakeWindowSeconds: 93, endpoints: [], endpointTypes: [] });

  it('knows LwM2M queue mode: 1.0 bindings with Q, 1.1 the Q parameter', () => {
    expect(plain.isSleepy(reg({ attrs: { lwm2m: '1.0', b: 'UQ' } }))).toBe(true);
    expect(plain.isSleepy(reg({ attrs: { b: 'UQS' } }))).toBe(true);
    expect(plain.isSleepy(reg({ attrs: { lwm2m: '1.1', b: 'U', Q: true } }))).toBe(true);
    expect(plain.isSleepy(reg({ attrs: { lwm2m: '1.1', b: 'U' } }))).toBe(false);
    expect(plain.isSleepy(undefined)).toBe(false);
  });

  it('takes the sleepy attribute of a plain RFC 9176 registration, with its own awake window', () => {
    expect(plain.isSleepy(reg({ attrs: { sleepy: true } }))).toBe(true);
    expect(plain.awakeWindowMs(reg({ attrs: { sleepy: true } }))).toBe(93_000);
    expect(plain.awakeWindowMs(reg({ attrs: { sleepy: '20' } }))).toBe(20_000);
    expect(plain.awakeWindowMs(reg({ attrs: { sleepy: 'soon' } }))).toBe(93_000);
  });

  it('follows configuration by ep pattern and et, never for discovered devices', () => {
    const rules = new SleepyClassifier({
      awakeWindowSeconds: 10,
      endpoints: ['sensor-*'],
      endpointTypes: ['oic.d.sleepy'],
    });
    expect(rules.isSleepy(reg({ ep: 'sensor-17' }))).toBe(true);
    expect(rules.isSleepy(reg({ ep: 'lamp-1' }))).toBe(false);
    expect(rules.isSleepy(reg({ ep: 'sensor.x', et: 'core.rd-ep oic.d.sleepy' }))).toBe(true);
    expect(rules.isSleepy(reg({ ep: 'sensor-1', discovered: true }))).toBe(false);
    expect(rules.awakeWindowMs(reg({}))).toBe(10_000);
  });
});
