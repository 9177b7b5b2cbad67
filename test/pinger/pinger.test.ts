import { afterEach, describe, expect, it } from 'vitest';
import { Pinger } from '../../pinger/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig, type PingerConfig } from '../../src/config.js';
import { EventBus, type GatewayEvents } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import type { Device, Store } from '../../src/store/index.js';
import { Fleet, type Thing } from '../../src/thing/index.js';
import { startThing as startThingIn, storeDevice, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function pingerConfig(overrides: Partial<PingerConfig>): PingerConfig {
  // Generous for a loaded machine: a ping lost to load would read as a miss.
  return { ...parseConfig({}).pinger, timeoutMs: 1000, missesBeforeOffline: 2, ...overrides };
}

function setup(overrides: Partial<PingerConfig> = {}) {
  const store = tempStore(cleanup, 'pinger-');
  const bus = new EventBus();
  const client = new CoapClient({ log, bind: '127.0.0.1' });
  const events: Array<{ name: 'device.online' | 'device.offline'; id: string }> = [];
  for (const name of ['device.online', 'device.offline'] as const) {
    bus.on(name, ({ device }: GatewayEvents[typeof name]) => events.push({ name, id: device.id }));
  }
  const pinger = new Pinger({ store, bus, log, client, config: pingerConfig(overrides) });
  cleanup.push(() => client.close());
  cleanup.push(() => pinger.stop());
  return { store, bus, client, pinger, events };
}

const startThing = (): Promise<Thing> => startThingIn(cleanup);
const addDevice = (store: Store, thing: Thing): Device => storeDevice(store, thing, 'discovery');

describe('Pinger', () => {
  it('takes a device offline after N consecutive misses and back online on the next answer, announcing each change once', async () => {
    const { store, pinger, events } = setup();
    const thing = await startThing();
    const device = addDevice(store, thing);

    expect(await pinger.sweep()).toMatchObject({ devices: 1, answered: 1, missed: 0 });
    await thing.goSilent();
    expect(await pinger.sweep()).toMatchObject({ missed: 1, wentOffline: 0 });
    expect(store.devices.get(device.id)?.status).toBe('online');
    expect(await pinger.sweep()).toMatchObject({ missed: 1, wentOffline: 1 });
    expect(store.devices.get(device.id)?.status).toBe('offline');
    await pinger.sweep();
    expect(events).toEqual([{ name: 'device.offline', id: device.id }]);

    await thing.comeBack();
    expect(await pinger.sweep()).toMatchObject({ answered: 1, cameOnline: 1 });
    await pinger.sweep();
    expect(store.devices.get(device.id)?.status).toBe('online');
    expect(events).toEqual([
      { name: 'device.offline', id: device.id },
      { name: 'device.online', id: device.id },
    ]);
    // An offline device was still pinged: the thing answered the sweep that brought it back.
    expect(thing.stats.pings).toBe(3);
  });

  it('runs on its interval by itself once started', async () => {
    const { store, pinger, events } = setup({ intervalSeconds: 0.1, jitter: 0.5 });
    const thing = await startThing();
    const device = addDevice(store, thing);
    await pinger.start();
    await waitFor(() => thing.stats.pings >= 2, { what: 'two rounds' });
    await thing.goSilent();
    await waitFor(() => events.length === 1, { what: 'device.offline' }).catch((err: Error) => {
      throw new Error(
        `${err.message}: events ${JSON.stringify(events)}, last round ${JSON.stringify(pinger.lastRound)}`,
      );
    });
    await thing.comeBack();
    await waitFor(() => events.length === 2, { what: 'device.online' });
    const pingsBefore = thing.stats.pings;
    await waitFor(() => thing.stats.pings >= pingsBefore + 3, { what: 'three more rounds' });
    expect(events.map((e) => e.name)).toEqual(['device.offline', 'device.online']);
    expect(store.devices.get(device.id)?.status).toBe('online');

    await pinger.stop();
    const pingsAtStop = thing.stats.pings;
    // Barrier: a control pinger on the same interval pings its own thing three rounds; the stopped one pings nobody.
    const control = setup({ intervalSeconds: 0.1, jitter: 0.5 });
    const controlThing = await startThing();
    addDevice(control.store, controlThing);
    await control.pinger.start();
    await waitFor(() => controlThing.stats.pings >= 3, { what: 'three rounds of the control pinger' });
    expect(thing.stats.pings).toBe(pingsAtStop);
  });

  it('never has more pings in flight than its concurrency', async () => {
    const { store, bus } = setup();
    const fleet = new Fleet({ log, count: 40, sensorIntervalMs: 0 });
    cleanup.push(() => fleet.stop());
    await fleet.start();
    for (const thing of fleet.things) addDevice(store, thing);
    // The real client, counted: every ping still crosses the loopback to a real thing.
    const real = new CoapClient({ log, bind: '127.0.0.1' });
    cleanup.push(() => real.close());
    let inFlight = 0;
    let maxInFlight = 0;
    const counted = {
      ping: async (host: string, port: number, timeoutMs: number) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return await real.ping(host, port, timeoutMs);
        } finally {
          inFlight--;
        }
      },
    };
    const pinger = new Pinger({ store, bus, log, client: counted, config: pingerConfig({ concurrency: 4 }) });
    const stats = await pinger.sweep();
    expect(stats).toMatchObject({ devices: 40, answered: 40, maxInFlight: 4 });
    expect(maxInFlight).toBe(4);
    expect(fleet.things.every((t) => t.stats.pings === 1)).toBe(true);
  });

  it('counts a registration or its update as a sign of life', async () => {
    const { store, bus, pinger, events } = setup();
    const thing = await startThing();
    const device = addDevice(store, thing);
    await pinger.start();
    await thing.goSilent();
    await pinger.sweep();
    await pinger.sweep();
    await waitFor(() => store.devices.get(device.id)?.status === 'offline', { what: 'offline' });
    // A mere lifetime refresh is a sign of life too.
    bus.emit('device.updated', { device: store.info(store.devices.get(device.id)!), refresh: true });
    expect(store.devices.get(device.id)?.status).toBe('online');
    bus.emit('device.registered', { device: store.info(store.devices.get(device.id)!) });
    expect(events.map((e) => e.name)).toEqual(['device.offline', 'device.online']);
  });
});
