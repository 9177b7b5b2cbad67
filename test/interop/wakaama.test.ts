import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { GatewayProcess, type HubDevice } from '../helpers/gateway-process.js';
import { Lwm2mClient, WAKAAMA, wakaamaClient } from './wakaama/wakaama.js';

/**
 * Eclipse Wakaama's LwM2M 1.1 client against the whole gateway (`coregate start`, embedded hub). Like every
 * client that connect()s its socket, lwm2mclient drops any datagram that does not come from the address and
 * port it registered to (`received bytes ignored!`): the gateway's requests must leave from the RD's port.
 */
const built = wakaamaClient('U');
const skip = 'skip' in built ? built.skip : undefined;
if (skip) console.warn(`skipping ${WAKAAMA} interop: ${skip}`);

describe.skipIf(skip !== undefined)(`${WAKAAMA} against coregate start`, () => {
  const binary = 'path' in built ? built.path : '';
  let gateway: GatewayProcess;
  const clients: Lwm2mClient[] = [];

  beforeAll(async () => {
    // A fast pinger: every ping to the device must be answered for it to stay online through the updates.
    gateway = await GatewayProcess.start({
      prefix: 'coregate-wakaama-',
      config: { pinger: { intervalSeconds: 1, jitter: 0 } },
    });
  });
  beforeEach(() => {
    // What each side said, for a failure on a machine where it cannot be reproduced at once.
    onTestFailed(() => {
      console.error(`gateway log (tail):\n${gateway.log.slice(-6000)}`);
      for (const client of clients) console.error(`lwm2mclient ${client.localPort}:\n${client.output.slice(-1500)}`);
    });
  });
  afterAll(async () => {
    for (const client of clients) await client.stop();
    await gateway?.stop();
  });

  async function register(
    ep: string,
    host: string,
    lifetime: number,
  ): Promise<{ client: Lwm2mClient; device: HubDevice }> {
    const client = await Lwm2mClient.start(binary, { host, port: gateway.rdPort, ep, lifetime });
    clients.push(client);
    const device = await gateway
      .waitForDevice(ep, (d) => d.status === 'online', `${ep} registered and online`)
      .catch((err: Error) => {
        throw new Error(`${err.message}\nlwm2mclient said:\n${client.output.slice(-2000)}`);
      });
    return { client, device };
  }

  it(`${WAKAAMA}: registers over IPv6, stays online through several update cycles under a 1 s pinger`, async () => {
    const { client, device } = await register('waka-v6', '::1', 6);
    expect(device.address).toBe(`[::1]:${client.localPort}`);
    expect(device.resources.map((r) => r.href)).toEqual(expect.arrayContaining(['/3/0', '/1/0', '/31024/10']));
    // Lifetime 6 s: Wakaama updates every 3 s (half the lifetime). Three updates are the barrier.
    const updates = await gateway.waitForLog(
      { event: 'device.updated', device: device.id },
      'three registration updates',
      20_000,
      3,
    );
    expect(updates.length).toBeGreaterThanOrEqual(3);
    const rounds = gateway.logged({ msg: 'ping round' });
    expect(rounds.length).toBeGreaterThanOrEqual(5);
    expect(rounds.every((round) => round.missed === 0)).toBe(true);
    expect(gateway.logged({ event: 'device.offline', device: device.id })).toEqual([]);
    expect(client.ignored).toBe(0);
    // lastSeen moves with every update (docs/api.md).
    const later = await gateway.device('waka-v6');
    expect(later!.lastSeen).toBeGreaterThan(device.lastSeen);
  });

  it(`${WAKAAMA}: reads, writes and executes through the hub's HTTP API (IPv4)`, async () => {
    const { client, device } = await register('waka-v4', '127.0.0.1', 60);
    expect(device.address).toBe(`127.0.0.1:${client.localPort}`);

    const manufacturer = await gateway.send(device.id, { method: 'GET', path: '/3/0/0', accept: 0 });
    expect(manufacturer).toMatchObject({ httpStatus: 200, code: '2.05', ct: 0, payload: 'Open Mobile Alliance' });

    const object = await gateway.send(device.id, { method: 'GET', path: '/3/0', accept: 110 });
    expect(object).toMatchObject({ httpStatus: 200, code: '2.05', ct: 110 });
    expect(object.payload).toEqual(expect.arrayContaining([{ n: '/3/0/0', vs: 'Open Mobile Alliance' }]));

    // This build has no TLV: a GET without Accept gets its 5.00, which is the device's reply, delivered as such.
    const noAccept = await gateway.send(device.id, { method: 'GET', path: '/3/0/0' });
    expect(noAccept).toMatchObject({ httpStatus: 200, code: '5.00' });

    // Write the server's lifetime (/1/0/1), then read it back.
    const write = await gateway.send(device.id, { method: 'PUT', path: '/1/0/1', payload: '120', ct: 0 });
    expect(write).toMatchObject({ httpStatus: 200, code: '2.04' });
    const lifetime = await gateway.send(device.id, { method: 'GET', path: '/1/0/1', accept: 0 });
    expect(lifetime).toMatchObject({ code: '2.05', payload: '120' });

    expect(client.ignored).toBe(0);
  });

  it(`${WAKAAMA}: executes Reboot (POST /3/0/4), goes offline when it exits, deregisters on quit`, async () => {
    const { client, device } = await register('waka-exec', '::1', 60);
    const reboot = await gateway.send(device.id, { method: 'POST', path: '/3/0/4' });
    expect(reboot).toMatchObject({ httpStatus: 200, code: '2.04' });
    // The sample client "reboots" by exiting a few seconds later (system_reboot() is exit(1)).
    await gateway.waitForDevice('waka-exec', (d) => d.status === 'offline', 'the rebooted client offline', 20_000);
    expect(client.running).toBe(false);
    const offline = await gateway.send(device.id, { method: 'GET', path: '/3/0/0', accept: 0 });
    expect(offline).toMatchObject({ httpStatus: 503, error: { code: 'device_offline' } });

    // Restarted on another port, it registers again: same device, new address, online.
    const again = await Lwm2mClient.start(binary, { host: '::1', port: gateway.rdPort, ep: 'waka-exec', lifetime: 60 });
    clients.push(again);
    const back = await gateway.waitForDevice(
      'waka-exec',
      (d) => d.status === 'online' && d.address === `[::1]:${again.localPort}`,
      'the restarted client online at its new address',
    );
    expect(back.id).toBe(device.id);
    const read = await gateway.send(device.id, { method: 'GET', path: '/3/0/0', accept: 0 });
    expect(read).toMatchObject({ code: '2.05', payload: 'Open Mobile Alliance' });

    await again.quit();
    await gateway.waitForLog({ event: 'device.removed', device: device.id }, 'the deregistration');
    expect(gateway.logged({ event: 'device.removed', device: device.id })[0]!.reason).toBe('deleted');
    const removed = await gateway.send(device.id, { method: 'GET', path: '/3/0/0', accept: 0 });
    expect(removed).toMatchObject({ httpStatus: 404, error: { code: 'unknown_device' } });
  }, 60_000);
});
