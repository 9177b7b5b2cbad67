import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Discovery, ResourceDirectory, discoveredLifetime, multicastGroups } from '../../rd/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { Thing } from '../../src/thing/index.js';
import { waitFor } from '../helpers/wait.js';
import { freeWildcardUdpPort, LOOPBACK, multicastSkipReason, closeAfterEach } from './loopback.js';

const GROUP = '224.0.1.187';
const problem = await multicastSkipReason(GROUP, 'multicast registration tests');

const onCleanup = closeAfterEach();

/** The RD as the gateway composes it: its socket joined to the configured groups on the configured interfaces. */
async function startRd(): Promise<{ store: Store; rd: ResourceDirectory; port: number; client: CoapClient }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-mc-rd-'));
  const store = new Store({ file: path.join(dir, 'gateway.db') });
  const client = new CoapClient({ log: silentLogger(), bind: LOOPBACK });
  const port = await freeWildcardUdpPort();
  const config = parseConfig({ discovery: { groups: [GROUP], interfaces: [LOOPBACK] } });
  const rd = new ResourceDirectory({
    store,
    bus: new EventBus(),
    log: silentLogger(),
    config: config.rd,
    coap: { bind: '0.0.0.0', port },
    client,
    multicastGroups: multicastGroups(config.discovery),
  });
  await rd.start();
  onCleanup(async () => {
    await rd.stop();
    await client.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { store, rd, port, client };
}

async function startThing(options: ConstructorParameters<typeof Thing>[0]): Promise<Thing> {
  const thing = new Thing(options);
  await thing.start();
  onCleanup(() => thing.stop());
  return thing;
}

describe.skipIf(problem !== undefined)('RD reached through All-CoAP-Nodes (RFC 9176 §4, §5.1)', () => {
  it('accepts a simple registration sent to the multicast group', async () => {
    const { store, port } = await startRd();
    const thing = await startThing({
      log: silentLogger(),
      name: 'mc-simple',
      rd: { host: GROUP, port },
      registration: 'simple',
      multicast: { interface: LOOPBACK },
      sensorIntervalMs: 0,
    });
    const device = await waitFor(() => store.devices.findByEndpoint(null, 'mc-simple'), {
      what: 'simple registration via multicast',
    });
    expect(device).toMatchObject({ host: LOOPBACK, port: thing.address().port, source: 'simple' });
    const links = store.registrations.get(device.id)?.links.map((l) => l.href);
    expect(links).toEqual(thing.links().map((l) => l.href));
  });

  it('merges a discovered device with its later self-registration from the same address', async () => {
    const { store, rd, port, client } = await startRd();
    const thingPort = await freeWildcardUdpPort();
    const thing = await startThing({
      log: silentLogger(),
      name: 'mc-merge',
      host: '0.0.0.0',
      port: thingPort,
      multicast: { group: GROUP, interface: LOOPBACK },
      sensorIntervalMs: 0,
    });
    const config = parseConfig({
      discovery: { groups: [GROUP], interfaces: [LOOPBACK], mdns: false, waitMs: 300 },
    }).discovery;
    const discovery = new Discovery({
      log: silentLogger(),
      config,
      client,
      rdPort: port,
      coapPort: thingPort,
      onDiscovered: (host, p, links) => rd.directory.registerDiscovered(host, p, links, discoveredLifetime(config)),
    });
    onCleanup(() => discovery.stop());
    expect(await discovery.runOnce()).toBeGreaterThanOrEqual(1);
    const discovered = store.devices.findByAddress(LOOPBACK, thing.address().port);
    expect(discovered?.source).toBe('discovery');

    // The same device reboots with an RD address configured and registers itself from the same address.
    await thing.stop();
    await startThing({
      log: silentLogger(),
      name: 'mc-merge',
      host: '0.0.0.0',
      port: thingPort,
      rd: { host: LOOPBACK, port },
      registration: 'simple',
      sensorIntervalMs: 0,
    });
    const registered = await waitFor(() => store.devices.findByEndpoint(null, 'mc-merge'), {
      what: 'self-registration',
    });
    expect(registered.id).toBe(discovered!.id);
    expect(store.devices.count()).toBe(1);
    expect(store.registrations.get(registered.id)?.discovered).toBe(false);
  });
});
