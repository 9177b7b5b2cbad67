import { afterEach, describe, expect, it } from 'vitest';
import { Executer } from '../../executer/index.js';
import type { Command, CommandStatusInfo } from '../../src/command.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import type { Store } from '../../src/store/index.js';
import { startThing, storeDevice, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const config = parseConfig({ executer: { queue: { maxPerDevice: 2, maxTotal: 3, expiryCheckSeconds: 0.1 } } }).executer;

async function setup(store: Store = tempStore(cleanup, 'queued-')) {
  const bus = new EventBus();
  const client = new CoapClient({ log, bind: '127.0.0.1' });
  const executer = new Executer({ store, bus, log, client, config });
  const statuses: CommandStatusInfo[] = [];
  bus.on('command.status', (info) => statuses.push(info));
  cleanup.push(() => client.close());
  cleanup.push(() => executer.stop());
  await executer.start();
  return { store, bus, executer, statuses };
}

function setStatus(store: Store, bus: EventBus, id: string, status: 'online' | 'asleep'): void {
  const device = store.devices.setStatus(id, status);
  if (device) bus.emit(status === 'online' ? 'device.online' : 'device.asleep', { device: store.info(device) });
}

const led = (device: string, marker: string): Command => ({
  device,
  method: 'PUT',
  path: '/actuators/led',
  query: [`n=${marker}`],
  payload: Buffer.from('{"on":true}'),
  ct: 50,
});
const movesOf = (statuses: CommandStatusInfo[], id: string): string[] =>
  statuses.filter((s) => s.id === id).map((s) => s.status);

describe('Executer: queued commands', () => {
  it('holds commands for an asleep device and delivers them in order, once each, when it wakes', async () => {
    const { store, bus, executer, statuses } = await setup();
    const thing = await startThing(cleanup);
    const device = storeDevice(store, thing);
    setStatus(store, bus, device.id, 'asleep');
    expect(executer.enqueue('c1', led(device.id, '1'))).toMatchObject({ ok: true, command: { status: 'queued' } });
    expect(executer.enqueue('c2', led(device.id, '2'))).toMatchObject({ ok: true });
    const wokeAt = performance.timeOrigin + performance.now();
    setStatus(store, bus, device.id, 'online');
    await waitFor(() => movesOf(statuses, 'c2').includes('done'), { what: 'both delivered' });
    const puts = thing.requestLog.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.query)).toEqual([['n=1'], ['n=2']]);
    expect(puts.every((r) => r.receivedAt >= wokeAt)).toBe(true);
    expect(movesOf(statuses, 'c1')).toEqual(['queued', 'sent', 'done']);
    expect(store.commands.get('c1')).toMatchObject({ status: 'done', result: { code: '2.04' } });
    expect(store.commands.pendingCount()).toBe(0);
  });

  it('refuses past the per-device limit (device_queue_full) and the total one (queue_full)', async () => {
    const { store, bus, executer } = await setup();
    const ids = ['a', 'b', 'c'].map(
      (ep) => store.devices.create({ ep, d: null, host: '127.0.0.1', port: 9, source: 'registration' }).id,
    );
    for (const id of ids) setStatus(store, bus, id, 'asleep');
    expect(executer.enqueue('a1', led(ids[0]!, '1')).ok).toBe(true);
    expect(executer.enqueue('a2', led(ids[0]!, '2')).ok).toBe(true);
    expect(executer.enqueue('a3', led(ids[0]!, '3'))).toMatchObject({
      ok: false,
      error: { code: 'device_queue_full' },
    });
    expect(executer.enqueue('b1', led(ids[1]!, '1')).ok).toBe(true);
    expect(executer.enqueue('c1', led(ids[2]!, '1'))).toMatchObject({ ok: false, error: { code: 'queue_full' } });
    expect(executer.enqueue('x1', led('nosuchdev', '1'))).toMatchObject({
      ok: false,
      error: { code: 'unknown_device' },
    });
    expect(executer.enqueue('bad', { ...led(ids[2]!, '1'), path: 'no-slash' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(store.commands.pendingCount()).toBe(3);
  });

  it('takes a repeated id once and tells its status again; cancels only what still waits', async () => {
    const { store, bus, executer, statuses } = await setup();
    const id = store.devices.create({ ep: 'a', d: null, host: '127.0.0.1', port: 9, source: 'registration' }).id;
    setStatus(store, bus, id, 'asleep');
    executer.enqueue('r1', led(id, '1'));
    executer.enqueue('r1', led(id, '1'));
    expect(store.commands.pendingCount(id)).toBe(1);
    expect(movesOf(statuses, 'r1')).toEqual(['queued', 'queued']);
    expect(executer.cancel('r1')).toMatchObject({ status: 'cancelled' });
    expect(executer.cancel('r1')).toMatchObject({ status: 'cancelled' });
    expect(executer.cancel('nope')).toBeUndefined();
    expect(movesOf(statuses, 'r1')).toEqual(['queued', 'queued', 'cancelled', 'cancelled']);
  });

  it('expires a command whose ttl runs out while the device sleeps', async () => {
    const { store, bus, executer, statuses } = await setup();
    const id = store.devices.create({ ep: 'a', d: null, host: '127.0.0.1', port: 9, source: 'registration' }).id;
    setStatus(store, bus, id, 'asleep');
    executer.enqueue('e1', led(id, '1'), 1);
    await waitFor(() => movesOf(statuses, 'e1').includes('expired'), { what: 'expired' });
    expect(store.commands.get('e1')).toMatchObject({ status: 'expired', result: { error: { code: 'timeout' } } });
  });

  it('after a restart, sends an idempotent command caught mid-delivery again and fails a POST (at most once)', async () => {
    const store = tempStore(cleanup, 'queued-restart-');
    const id = store.devices.create({ ep: 'a', d: null, host: '127.0.0.1', port: 9, source: 'registration' }).id;
    store.devices.setStatus(id, 'asleep');
    const now = Date.now();
    store.commands.add('put', led(id, '1'), now + 60_000, now);
    store.commands.add('post', { ...led(id, '2'), method: 'POST' }, now + 60_000, now);
    store.commands.set('put', 'sent');
    store.commands.set('post', 'sent');
    const { statuses } = await setup(store);
    expect(store.commands.get('put')?.status).toBe('queued');
    expect(store.commands.get('post')).toMatchObject({
      status: 'failed',
      result: { error: { code: 'device_offline' } },
    });
    expect(movesOf(statuses, 'post')).toEqual(['failed']);
  });
});
