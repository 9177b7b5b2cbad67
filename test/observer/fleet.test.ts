import { afterEach, describe, expect, it } from 'vitest';
import { Observer } from '../../observer/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus, type Telemetry } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Fleet } from '../../src/thing/index.js';
import { startRd, tempStore, type Cleanup } from '../helpers/things.js';
import { sleep, waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const THINGS = 200;
/** Observable resources of a simulated thing: /sensors/temp and /sensors/hum. */
const OBSERVABLE = 2;

describe('Observer with a real RD and a fleet registering at once', () => {
  it('observes every thing exactly once and delivers each value change once, in order', async () => {
    const store = tempStore(cleanup, 'observer-fleet-');
    const bus = new EventBus();
    const telemetry: Telemetry[] = [];
    bus.on('telemetry', (t) => telemetry.push(t));
    const client = new CoapClient({ log, bind: '127.0.0.1' });
    cleanup.push(() => client.close());
    const config = parseConfig({});
    const rd = await startRd(cleanup, { store, bus, client });
    const observer = new Observer({ store, bus, log, config: config.observer, client });
    await observer.start();

    const fleet = new Fleet({
      log,
      count: THINGS,
      namePrefix: 'fleet',
      rd: { host: '127.0.0.1', port: rd.address().port },
      sensorIntervalMs: 0,
      lifetime: 3600,
      startConcurrency: THINGS,
    });
    cleanup.push(() => fleet.stop());
    // Stopped before the things, so that its deregistrations find them.
    cleanup.push(() => observer.stop());
    await fleet.start();

    // On failure the assertion below names the things that are not observed exactly once.
    await waitFor(
      () =>
        fleet.things.every((t) => t.observerCount >= OBSERVABLE) &&
        observer.taskCount().observe === THINGS * OBSERVABLE &&
        // Every observation's first response (the current value) has reached the bus.
        new Set(telemetry.map((t) => `${t.device} ${t.path}`)).size === THINGS * OBSERVABLE,
      { what: 'every thing observed', timeoutMs: 20_000 },
    ).catch(() => undefined);
    // Barrier: every thing has its 2.01 (fleet.start() resolved) and the RD announces a registration before it
    // answers it, so every registration event has reached the Observer; every observation is open at its thing and
    // has delivered its first value.
    const wronglyObserved = fleet.things
      .filter((t) => t.observerCount !== OBSERVABLE)
      .map((t) => ({ thing: t.name, port: t.address().port, observers: t.observerCount }));
    expect(wronglyObserved).toEqual([]);
    expect(observer.taskCount()).toEqual({ observe: THINGS * OBSERVABLE, poll: 0 });

    const ids = new Map(fleet.things.map((t) => [t.name, store.devices.findByEndpoint(null, t.name)!.id]));
    // Barrier: a thing counts its observer when the request arrives, before its first notification (the
    // registration's response) has travelled back; each device's first value must be in before counting afresh.
    await waitFor(
      () => [...ids.values()].every((id) => telemetry.some((t) => t.device === id && t.path === '/sensors/temp')),
      { what: 'the first notification of every thing', timeoutMs: 15_000 },
    );
    telemetry.splice(0);
    const sent = new Map<string, number[]>();
    for (let round = 0; round < 3; round++) {
      for (const thing of fleet.things) {
        thing.resources.temperature.drift();
        const values = sent.get(ids.get(thing.name)!) ?? [];
        values.push(thing.resources.temperature.value);
        sent.set(ids.get(thing.name)!, values);
      }
      await sleep(50);
    }
    const received = (): Map<string, number[]> => {
      const byDevice = new Map<string, number[]>();
      for (const t of telemetry) {
        if (t.path !== '/sensors/temp') continue;
        const values = byDevice.get(t.device) ?? [];
        values.push((t.value as { temperature: number }).temperature);
        byDevice.set(t.device, values);
      }
      return byDevice;
    };
    await waitFor(() => [...sent].every(([id, values]) => (received().get(id)?.length ?? 0) >= values.length), {
      what: 'every value change at the bus',
      timeoutMs: 15_000,
    });
    // Barrier: one more change per thing, to a value no drift reaches, on the same observations; a duplicate of an
    // earlier value would arrive before it.
    const BARRIER = -273;
    for (const thing of fleet.things) thing.resources.temperature.set(BARRIER);
    await waitFor(() => [...sent.keys()].every((id) => received().get(id)?.includes(BARRIER)), {
      what: 'the barrier value from every thing',
      timeoutMs: 15_000,
    });
    const got = new Map([...received()].map(([id, values]) => [id, values.slice(0, values.indexOf(BARRIER))]));
    const wrong = [...sent].filter(([id, values]) => JSON.stringify(got.get(id)) !== JSON.stringify(values));
    expect(wrong.map(([id, values]) => ({ id, sent: values, got: got.get(id) }))).toEqual([]);
  }, 60_000);
});
