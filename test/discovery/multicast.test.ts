import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Directory, Discovery, discoveredLifetime } from '../../rd/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig, type DiscoveryConfig } from '../../src/config.js';
import { EventBus, type GatewayEvents } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { Thing } from '../../src/thing/index.js';
import { freeWildcardUdpPort, LOOPBACK, multicastSkipReason, closeAfterEach, recordingLogger } from './loopback.js';

const GROUP = '224.0.1.187';
const problem = await multicastSkipReason(GROUP, 'CoAP multicast discovery tests');

const onCleanup = closeAfterEach();

function discoveryConfig(discovery: Partial<DiscoveryConfig>): DiscoveryConfig {
  return parseConfig({ discovery: { mdns: false, waitMs: 300, intervalSeconds: 3600, ...discovery } }).discovery;
}

function client(): CoapClient {
  const c = new CoapClient({ log: silentLogger(), bind: LOOPBACK });
  onCleanup(() => c.close());
  return c;
}

function store(): Store {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-discovery-'));
  const s = new Store({ file: path.join(dir, 'gateway.db') });
  onCleanup(() => {
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

function discovery(config: DiscoveryConfig, deps: Partial<ConstructorParameters<typeof Discovery>[0]> = {}): Discovery {
  const d = new Discovery({
    log: silentLogger(),
    config,
    client: client(),
    onDiscovered: () => undefined,
    rdPort: 5683,
    ...deps,
  });
  onCleanup(() => d.stop());
  return d;
}

describe.skipIf(problem !== undefined)('CoAP multicast discovery on loopback (RFC 7252 §8)', () => {
  it('finds a thing answering on All-CoAP-Nodes and registers it in the directory as discovered', async () => {
    const port = await freeWildcardUdpPort();
    const thing = new Thing({
      log: silentLogger(),
      name: 'mc-thing',
      host: '0.0.0.0',
      port,
      multicast: { group: GROUP, interface: LOOPBACK },
      sensorIntervalMs: 0,
    });
    await thing.start();
    onCleanup(() => thing.stop());

    const s = store();
    const bus = new EventBus();
    const registered: GatewayEvents['device.registered'][] = [];
    bus.on('device.registered', (event) => registered.push(event));
    const directory = new Directory(s, bus, silentLogger(), parseConfig({}).rd);
    const config = discoveryConfig({ groups: [GROUP], interfaces: [LOOPBACK] });
    const d = discovery(config, {
      coapPort: port,
      onDiscovered: (host, p, links) => directory.registerDiscovered(host, p, links, discoveredLifetime(config)),
    });

    expect(await d.runOnce()).toBe(1);
    const device = s.devices.findByAddress(LOOPBACK, port);
    expect(device).toMatchObject({ source: 'discovery', ep: null, host: LOOPBACK, port });
    const reg = s.registrations.get(device!.id)!;
    expect(reg.discovered).toBe(true);
    expect(reg.links.map((l) => l.href)).toEqual(thing.links().map((l) => l.href));
    expect(reg.links.find((l) => l.href === '/sensors/temp')?.attrs.obs).toBe(true);
    await s.durable(); // the events follow the commit
    expect(registered.map((e) => e.device.id)).toEqual([device!.id]);

    // A second round refreshes the same device instead of adding one.
    expect(await d.runOnce()).toBe(1);
    expect(s.devices.count()).toBe(1);
  });

  it('warns once and discovers nothing where multicast cannot be sent, and runs on', async () => {
    const { log, records } = recordingLogger();
    // 192.0.2.123 (TEST-NET-1) is no address of this machine: choosing it as the interface fails.
    const d = discovery(discoveryConfig({ groups: [GROUP], interfaces: ['192.0.2.123'] }), { log });
    expect(await d.runOnce()).toBe(0);
    expect(await d.runOnce()).toBe(0);
    const warnings = records.filter((r) => r.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/multicast discovery is not possible/);
  });

  it('starts nothing when discovery is off (COREGATE_DISCOVERY=off), with one info line', async () => {
    const { log, records } = recordingLogger();
    const config = parseConfig({}, 'test', { COREGATE_DISCOVERY: 'off' }).discovery;
    const d = discovery(config, { log });
    await d.start();
    expect(await d.runOnce()).toBe(0);
    expect(records.map((r) => r.msg)).toEqual([expect.stringMatching(/discovery is off/)]);
  });
});
