import crypto from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Executer } from '../../executer/index.js';
import type { Command, CommandResult } from '../../src/command.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { BIG_SIZE, type Thing } from '../../src/thing/index.js';
import { startThing as startThingIn, storeDevice, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup() {
  const store = tempStore(cleanup, 'executer-');
  const client = new CoapClient({ log, bind: '127.0.0.1' });
  const executer = new Executer({ store, log, client, config: parseConfig({}).executer });
  cleanup.push(() => client.close());
  cleanup.push(() => executer.stop());
  await executer.start();
  return { store, executer };
}

const startThing = (name = 'node1'): Promise<Thing> => startThingIn(cleanup, { name });

function expectOk(result: CommandResult): Extract<CommandResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected a reply, got ${result.error.code}: ${result.error.message}`);
  return result;
}

function errorCode(result: CommandResult): string | undefined {
  return result.ok ? undefined : result.error.code;
}

describe('Executer', () => {
  it('sends a command to the device and returns code, ct and payload', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    thing.setTemperature(23.5);
    const read = expectOk(await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp' }));
    expect(read).toMatchObject({ code: '2.05', ct: 50 });
    expect(JSON.parse(read.payload.toString())).toEqual({ temperature: 23.5, unit: 'Cel' });

    const write = expectOk(
      await executer.execute({
        device: device.id,
        method: 'PUT',
        path: '/actuators/led',
        payload: Buffer.from('{"on":true}'),
        ct: 50,
      }),
    );
    expect(write.code).toBe('2.04');
    expect(thing.resources.ledOn).toBe(true);

    const missing = expectOk(
      await executer.execute({ device: device.id, method: 'GET', path: '/nope', query: ['a=1'] }),
    );
    expect(missing.code).toBe('4.04');
    expect(thing.requestLog.at(-1)).toMatchObject({ path: '/nope', query: ['a=1'] });
  });

  it('answers unknown_device, device_offline and bad_request without sending anything', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    expect(errorCode(await executer.execute({ device: 'nope', method: 'GET', path: '/sensors/temp' }))).toBe(
      'unknown_device',
    );
    const bad: Array<Partial<Command>> = [
      { method: 'BREW' as Command['method'] },
      { path: 'sensors/temp' },
      { path: '/a?b' },
      { timeout: -5 },
      { ct: 70_000 },
      { query: ['x'.repeat(300)] },
    ];
    for (const change of bad) {
      const result = await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp', ...change });
      expect(errorCode(result), JSON.stringify(change)).toBe('bad_request');
    }
    store.devices.setStatus(device.id, 'offline');
    expect(errorCode(await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp' }))).toBe(
      'device_offline',
    );
    expect(thing.stats.requests).toBe(0);
  });

  it('reaches the device at its current address after it moved', async () => {
    const { store, executer } = await setup();
    const before = await startThing();
    const device = storeDevice(store, before);
    expectOk(await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp' }));
    await before.stop();
    const after = await startThing();
    // As the RD does when the device re-registers from a new address (RFC 9176 §5.3.1).
    store.devices.update(device.id, after.address());
    expectOk(await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp' }));
    expect(before.stats.requests).toBe(1);
    expect(after.stats.requests).toBe(1);
  });

  it('honours the deadline: timeout at the deadline, not before, also against a silent device', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    let started = performance.now();
    const slow = await executer.execute({
      device: device.id,
      method: 'GET',
      path: '/slow',
      query: ['ms=3000'],
      timeout: 300,
    });
    expect(errorCode(slow)).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(299);

    await thing.goSilent();
    started = performance.now();
    const silent = await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp', timeout: 400 });
    expect(errorCode(silent)).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(399);
  });

  it('serialises commands to one device, and counts the wait in line against the deadline', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    const first = executer.execute({ device: device.id, method: 'GET', path: '/slow', query: ['ms=300'] });
    const second = executer.execute({ device: device.id, method: 'GET', path: '/slow', query: ['ms=10'] });
    const third = executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp', timeout: 50 });
    expect(errorCode(await third)).toBe('timeout');
    expectOk(await first);
    expectOk(await second);
    const [a, b] = thing.requestLog;
    expect(thing.requestLog.map((e) => e.query)).toEqual([['ms=300'], ['ms=10']]);
    expect(b!.receivedAt).toBeGreaterThanOrEqual(a!.respondedAt!);
  });

  it('runs commands to different devices in parallel', async () => {
    const { store, executer } = await setup();
    const one = await startThing('one');
    const two = await startThing('two');
    const results = Promise.all(
      [one, two].map((t) =>
        executer.execute({ device: storeDevice(store, t).id, method: 'GET', path: '/slow', query: ['ms=1000'] }),
      ),
    );
    await waitFor(() => one.stats.requests === 1 && two.stats.requests === 1, { what: 'both requests received' });
    // Both arrived while the other was still being answered.
    expect(one.requestLog[0]!.respondedAt).toBeUndefined();
    expect(two.requestLog[0]!.respondedAt).toBeUndefined();
    (await results).forEach(expectOk);
  });

  it('moves payloads larger than a datagram block-wise both ways (RFC 7959)', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    const got = expectOk(await executer.execute({ device: device.id, method: 'GET', path: '/big' }));
    expect(got.payload.length).toBe(BIG_SIZE);
    expect(got.payload.equals(thing.resources.big)).toBe(true);

    const upload = crypto.randomBytes(4096);
    const put = expectOk(
      await executer.execute({ device: device.id, method: 'PUT', path: '/big', payload: upload, ct: 42 }),
    );
    expect(put.code).toBe('2.04');
    expect(JSON.parse(put.payload.toString())).toEqual({ size: 4096 });
    expect(thing.resources.big.equals(upload)).toBe(true);
  });

  it('answers commands in progress when stopped', async () => {
    const { store, executer } = await setup();
    const thing = await startThing();
    const device = storeDevice(store, thing);
    const pending = executer.execute({ device: device.id, method: 'GET', path: '/slow', query: ['ms=5000'] });
    await waitFor(() => thing.stats.requests === 1, { what: 'the request' });
    await executer.stop();
    expect(errorCode(await pending)).toBe('timeout');
    expect(errorCode(await executer.execute({ device: device.id, method: 'GET', path: '/' }))).toBe('timeout');
  });
});
