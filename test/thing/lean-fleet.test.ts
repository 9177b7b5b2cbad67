import { afterEach, describe, expect, it } from 'vitest';
import { Observer } from '../../observer/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus, type Telemetry } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { LeanFleet } from '../../src/thing/index.js';
import { startRd, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const DEVICES = 100;

describe('LeanFleet (the fleet bench devices) with a real RD, Observer and client', () => {
  it('registers every device, is observed once per device, answers pings and commands, and each value it produces arrives once', async () => {
    const store = tempStore(cleanup, 'lean-fleet-');
    const bus = new EventBus();
    const telemetry: Telemetry[] = [];
    bus.on('telemetry', (t) => telemetry.push(t));
    const client = new CoapClient({ log, bind: '127.0.0.1' });
    cleanup.push(() => client.close());
    const rd = await startRd(cleanup, { store, bus, client });
    const observer = new Observer({ store, bus, log, config: parseConfig({}).observer, client });
    const fleet = new LeanFleet({
      count: DEVICES,
      namePrefix: 'lean',
      host: '127.0.0.1',
      rd: { host: '127.0.0.1', port: rd.address().port },
      lifetime: 3600,
      window: 8,
    });
    cleanup.push(() => fleet.stop());
    cleanup.push(() => observer.stop());
    await observer.start();
    await fleet.start();

    await waitFor(() => fleet.stats().observed === DEVICES, { what: 'every device observed', timeoutMs: 20_000 });
    expect(fleet.stats().registered).toBe(DEVICES);
    expect(store.registrations.count()).toBe(DEVICES);
    const devices = store.devices.list();
    const first = devices[0]!;
    const { host, port } = first;
    expect(await client.ping(host, port, 2000)).toBe(true);
    const reply = await client.request({ host, port, method: 'PUT', path: '/actuators/led', timeoutMs: 2000 });
    expect(reply.code).toBe('2.04');

    const before = telemetry.length;
    expect(fleet.produce(DEVICES * 3)).toBe(DEVICES * 3);
    await waitFor(() => telemetry.length - before >= DEVICES * 3, { what: 'every value', timeoutMs: 10_000 });
    const values = telemetry.slice(before).map((t) => `${t.device}=${JSON.stringify(t.value)}`);
    expect(new Set(values).size).toBe(DEVICES * 3);
    expect(fleet.stats().produced).toBe(DEVICES * 3);
  });
});
