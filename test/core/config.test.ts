import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config.js';

describe('configuration', () => {
  it('runs on embedded defaults with no file', () => {
    const config = loadConfig(undefined, {});
    expect(config.coap).toEqual({ bind: '::', port: 5683 });
    expect(config.rd.defaultLifetime).toBe(90_000);
    expect(config.db).toBe('./data/coregate.db');
  });

  it('the shipped gateway.config.json is valid and equals the embedded defaults', () => {
    const shipped = loadConfig(path.join(__dirname, '../../gateway.config.json'), {});
    const defaults = parseConfig({}, 'defaults', {});
    expect({ ...shipped, platform: { ...shipped.platform, gatewayId: '' } }).toEqual({
      ...defaults,
      platform: { ...defaults.platform, gatewayId: '' },
    });
  });

  it('names unknown keys and wrong types', () => {
    expect(() => parseConfig({ coap: { prot: 5683 } }, 'x.json')).toThrow(/x\.json: coap: Unrecognized key.*prot/);
    expect(() => parseConfig({ coap: { port: 'five' } }, 'x.json')).toThrow(/coap\.port/);
    expect(() => parseConfig({ rd: { limits: { maxRegistrations: -1 } } })).toThrow(/rd\.limits\.maxRegistrations/);
    expect(() => parseConfig([], 'x.json')).toThrow(ConfigError);
  });

  it('applies environment overrides over the file', () => {
    const config = parseConfig({ coap: { port: 1 } }, 'f', {
      COREGATE_COAP_PORT: '5699',
      COREGATE_DB: '/tmp/x.db',
      COREGATE_DISCOVERY: 'off',
      COREGATE_DISCOVERY_INTERFACES: '127.0.0.1, 10.0.0.1',
    });
    expect(config.coap.port).toBe(5699);
    expect(config.db).toBe('/tmp/x.db');
    expect(config.discovery.enabled).toBe(false);
    expect(config.discovery.interfaces).toEqual(['127.0.0.1', '10.0.0.1']);
  });

  it('rejects a bad environment value with the variable path named', () => {
    expect(() => parseConfig({}, 'f', { COREGATE_COAP_PORT: 'abc' })).toThrow(/coap\.port/);
  });

  it('explains an unreadable or malformed file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-config-'));
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{ "coap": ');
    expect(() => loadConfig(file, {})).toThrow(/not valid JSON/);
    expect(() => loadConfig(path.join(dir, 'missing.json'), {})).toThrow(/cannot read \(ENOENT\)/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('the README documents every limit with its default', () => {
  const readme = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
  const defaults = parseConfig({}, 'defaults', {});
  const limits: Array<[string, number]> = [
    ...Object.entries(defaults.rd.limits)
      .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
      .map(([key, value]): [string, number] => [`rd.limits.${key}`, value]),
    ...(
      [
        'maxConnections',
        'maxConnectionsPerAddress',
        'idleTimeoutMs',
        'maxSubscriptionsPerClient',
        'retainedEvents',
      ] as const
    ).map((key): [string, number] => [`hub.${key}`, defaults.hub[key]]),
  ];
  it.each(limits)('%s: %d', (key, value) => {
    const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${key}\``));
    expect(row, key).toBeDefined();
    expect(row).toContain(`\`${value}\``);
  });
});
