import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { Thing } from '../../src/thing/index.js';
import { runCli } from '../helpers/cli.js';
import { storeDevice } from '../helpers/things.js';

const log = silentLogger();
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A database as `start` leaves it, with one device at a live thing's address. */
async function gatewayWithThing(): Promise<{ env: Record<string, string>; id: string; thing: Thing }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'send-cli-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const thing = new Thing({ log, name: 'lamp', sensorIntervalMs: 0 });
  cleanup.push(() => thing.stop());
  await thing.start();
  const db = path.join(dir, 'gateway.db');
  const store = new Store({ file: db });
  const { id } = storeDevice(store, thing);
  store.close();
  return { env: { COREGATE_DB: db }, id, thing };
}

describe('coregate send', () => {
  it('runs one command by gateway id or ep and prints code, ct and the decoded payload', async () => {
    const { env, id, thing } = await gatewayWithThing();
    thing.setTemperature(19);
    const read = await runCli(['send', id, 'get', '/sensors/temp', '--json'], env);
    expect(read.code, read.stdout + read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual({ code: '2.05', ct: 50, payload: { temperature: 19, unit: 'Cel' } });

    const write = await runCli(['send', 'lamp', 'PUT', '/actuators/led', '{"on":true}'], env);
    expect(write.code, write.stdout + write.stderr).toBe(0);
    expect(write.stdout).toMatch(/^2\.04 {2}ct=50/);
    expect(thing.resources.ledOn).toBe(true);
  });

  it('exits 1 on a non-2.xx reply or an error result, 2 on bad usage', async () => {
    const { env } = await gatewayWithThing();
    const missing = await runCli(['send', 'lamp', 'GET', '/nope', '--json'], env);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ code: '4.04' });

    const late = await runCli(['send', 'lamp', 'GET', '/slow?ms=2000', '--timeout', '200'], env);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('error: timeout');

    const unknown = await runCli(['send', 'nobody', 'GET', '/'], env);
    expect(unknown.code, unknown.stderr).toBe(1);
    expect(unknown.stderr).toContain('unknown_device');

    const usage = await runCli(['send', 'lamp', 'BREW', '/'], env);
    expect(usage.code, usage.stderr).toBe(2);
  });
});
