import { afterEach, describe, expect, it } from 'vitest';
import { Executer } from '../../executer/index.js';
import { Pinger } from '../../pinger/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus, type DeviceEventName } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import type { Thing } from '../../src/thing/index.js';
import { startRd, startThing, tempStore, type Cleanup } from '../helpers/things.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();
const cleanup: Cleanup = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('Executer and Pinger over a real RD', () => {
  it('follow a device that goes silent and comes back at a new address', async () => {
    const store = tempStore(cleanup, 'workers-rd-');
    const bus = new EventBus();
    const events: DeviceEventName[] = [];
    for (const name of ['device.registered', 'device.updated', 'device.online', 'device.offline'] as const) {
      bus.on(name, () => events.push(name));
    }
    const client = new CoapClient({ log, bind: '127.0.0.1' });
    cleanup.push(() => client.close());
    const config = parseConfig({});
    const rd = await startRd(cleanup, { store, bus, client });
    const executer = new Executer({ store, log, config: config.executer, client });
    await executer.start();
    cleanup.push(() => executer.stop());
    const pingerConfig = { ...config.pinger, intervalSeconds: 0.1, timeoutMs: 1000, missesBeforeOffline: 2 };
    const pinger = new Pinger({ store, bus, log, config: pingerConfig, client });
    await pinger.start();
    cleanup.push(() => pinger.stop());

    const rdAddress = { host: '127.0.0.1', port: rd.address().port };
    const bootMover = async (): Promise<Thing> => {
      const thing = await startThing(cleanup, { name: 'mover', rd: rdAddress });
      if (!thing.location) await new Promise((resolve) => thing.once('registered', resolve));
      return thing;
    };

    const first = await bootMover();
    const device = store.devices.findByEndpoint(null, 'mover')!;
    expect(device.port).toBe(first.address().port);
    const get = () => executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp', timeout: 2000 });
    expect((await get()).ok).toBe(true);

    await first.goSilent();
    await waitFor(() => events.includes('device.offline'), { what: 'device.offline' });
    const refused = await get();
    expect(refused.ok ? undefined : refused.error.code).toBe('device_offline');

    // The device reboots on another port and registers again (RFC 9176 §5.3: same ep, new base).
    const second = await bootMover();
    expect(second.address().port).not.toBe(first.address().port);
    await waitFor(() => store.devices.get(device.id)?.status === 'online', { what: 'back online' });
    expect(store.devices.get(device.id)?.port).toBe(second.address().port);
    const reply = await get();
    expect(reply.ok).toBe(true);
    expect(second.stats.requests).toBe(1);
    expect(events.filter((e) => e === 'device.offline')).toHaveLength(1);
    expect(events.filter((e) => e === 'device.online')).toHaveLength(1);
  });
});
