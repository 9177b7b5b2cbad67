import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ResourceDirectory } from '../../rd/index.js';
import type { CoapClientApi } from '../../src/coap/types.js';
import { parseConfig } from '../../src/config.js';
import type { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { formatAddress } from '../../src/coap/peer.js';
import { Store, type Device, type DeviceSource } from '../../src/store/index.js';
import { Thing, type ThingOptions } from '../../src/thing/index.js';

/** What a test closes after itself, in reverse order of opening. */
export type Cleanup = Array<() => Promise<void> | void>;

/** A store in a fresh SQLite file of its own temp dir, both removed by `cleanup`. */
export function tempStore(cleanup: Cleanup, prefix = 'coregate-'): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new Store({ file: path.join(dir, 'gateway.db') });
  cleanup.push(() => store.close());
  return store;
}

/** A simulated thing on a free loopback port, sensors still unless asked; stopped by `cleanup`. */
export async function startThing(cleanup: Cleanup, options: Partial<ThingOptions> = {}): Promise<Thing> {
  const thing = new Thing({ log: silentLogger(), name: 'node1', sensorIntervalMs: 0, ...options });
  cleanup.push(() => thing.stop());
  await thing.start();
  return thing;
}

/**
 * The thing as a known device with a live registration (lifetime `lt` seconds), as the RD (or discovery)
 * would have stored it: the workers ping, observe and command registered devices only.
 */
export function storeDevice(store: Store, thing: Thing, source: DeviceSource = 'registration', lt = 3600): Device {
  const { host, port } = thing.address();
  return storeRegistered(store, { ep: thing.name, host, port }, source, lt);
}

/** A device at `host`:`port` with a live registration, as storeDevice puts it (for fleets that are only ports). */
export function storeRegistered(
  store: Store,
  { ep, host, port }: { ep: string; host: string; port: number },
  source: DeviceSource = 'registration',
  lt = 3600,
): Device {
  const device = store.devices.create({ ep, d: null, host, port, source });
  const now = Date.now();
  store.registrations.put({
    deviceId: device.id,
    ep,
    d: null,
    base: `coap://${formatAddress(host, port)}`,
    baseExplicit: false,
    lt,
    et: null,
    attrs: {},
    links: [],
    discovered: source === 'discovery',
    createdAt: now,
    updatedAt: now,
    expiresAt: now + lt * 1000,
  });
  return device;
}

/** A real RD on a free loopback port over `store` and `bus`, fetching with `client`; stopped by `cleanup`. */
export async function startRd(
  cleanup: Cleanup,
  deps: { store: Store; bus: EventBus; client: CoapClientApi },
): Promise<ResourceDirectory> {
  const rd = new ResourceDirectory({
    ...deps,
    log: silentLogger(),
    config: parseConfig({}).rd,
    coap: { bind: '127.0.0.1', port: 0 },
  });
  await rd.start();
  cleanup.push(() => rd.stop());
  return rd;
}
