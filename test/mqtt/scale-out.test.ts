import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import { API_KEY, CoregateProcess, hubApi, Subscriber } from '../connector/platform-harness.js';
import { MOSQUITTO, Mosquitto, mosquittoVersion } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { BrokerClient, online, startMqttGateway } from './harness.js';

/**
 * Part B with real processes: 3 `coregate start` gateways speaking "coregate over MQTT", 2 `coregate hub --broker`
 * hubs, 1 mosquitto. Either hub sees and commands every gateway's devices; webhooks fire once across the hubs;
 * killing one hub leaves the other serving.
 */

const broker = mosquittoVersion();
if (MOSQUITTO === undefined)
  console.warn('test/mqtt/scale-out: skipped, mosquitto is not installed (.ci/run installs it)');

let dir: string;
let mosquitto: Mosquitto;
let receiver: http.Server;
const cleanup: Array<() => Promise<void> | void> = [];

interface Hook {
  event: string;
  data: { device?: string | { ep?: string }; value?: { temperature?: number }; path?: string };
}
const hooks: Hook[] = [];

beforeEach(async () => {
  if (MOSQUITTO === undefined) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-scale-'));
  mosquitto = await Mosquitto.start(dir);
  hooks.length = 0;
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Hook);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  await mosquitto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function hub(name: string): Promise<{ process: CoregateProcess; port: number }> {
  const file = path.join(dir, `${name}.config.json`);
  const webhook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  const config = {
    hub: {
      host: '127.0.0.1',
      port: 0,
      apiKey: API_KEY,
      webhooks: [{ url: webhook, events: ['telemetry/*', 'device.*'] }],
    },
  };
  fs.writeFileSync(file, JSON.stringify(config));
  const process = CoregateProcess.start(['hub', '--config', file, '--broker', mosquitto.url]);
  cleanup.push(() => process.stop());
  const line = await process.logged({ msg: 'hub listening' });
  await process.logged({ msg: 'subscribed to the broker', role: 'webhooks' });
  await process.logged({ msg: 'subscribed to the broker', role: 'view' });
  return { process, port: line.port as number };
}

async function gatewayWithThing(name: string): Promise<Thing> {
  const { gateway, coapPort } = await startMqttGateway(dir, mosquitto.url, { mqtt: { topics: 'coregate' } }, { name });
  cleanup.push(() => gateway.stop());
  await online(gateway);
  const thing = new Thing({
    log: silentLogger(),
    name: `t-${name}`,
    rd: { host: '127.0.0.1', port: coapPort },
    sensorIntervalMs: 0,
  });
  thing.resources.temperature.set(0);
  cleanup.push(() => thing.stop());
  await thing.start();
  return thing;
}

interface Listed {
  id: string;
  ep: string;
  gateway: string;
  gatewayConnected: boolean;
}

async function devices(port: number): Promise<Listed[]> {
  const { status, body } = await hubApi(port, 'GET', '/v1/devices');
  expect(status).toBe(200);
  return body.devices as Listed[];
}

/** Webhook deliveries of one device's temperature `value`. */
const hooksOf = (id: string, value: number): Hook[] =>
  hooks.filter(
    (h) => h.event === `telemetry/${id}` && h.data.path === '/sensors/temp' && h.data.value?.temperature === value,
  );

describe.skipIf(MOSQUITTO === undefined)(`scale-out: 3 gateways, 2 hubs, one ${broker}`, () => {
  test('either hub lists and commands every device, pub/sub sees all gateways, webhooks fire once; hub 1 killed, hub 2 serves on', async () => {
    const hub1 = await hub('hub-1');
    const hub2 = await hub('hub-2');
    const subscriber = await Subscriber.connect(hub1.port, ['telemetry']);
    cleanup.push(() => subscriber.close());
    const things = await Promise.all(['gw-1', 'gw-2', 'gw-3'].map((name) => gatewayWithThing(name)));

    const listed = await waitFor(
      async () => {
        const [one, two] = await Promise.all([devices(hub1.port), devices(hub2.port)]);
        return one.length === 3 && two.length === 3 ? [one, two] : undefined;
      },
      { what: 'three devices on both hubs', timeoutMs: 20_000 },
    );
    for (const list of listed) {
      expect(list.map((d) => [d.ep, d.gateway, d.gatewayConnected]).sort()).toEqual([
        ['t-gw-1', 'gw-1', true],
        ['t-gw-2', 'gw-2', true],
        ['t-gw-3', 'gw-3', true],
      ]);
    }
    const ids = things.map((thing) => listed[0]!.find((d) => d.ep === thing.name)!.id);

    // A send through either hub reaches a device of any gateway.
    for (const [port, index] of [
      [hub1.port, 2],
      [hub2.port, 0],
      [hub2.port, 1],
    ] as const) {
      const { status, body } = await hubApi(port, 'POST', `/v1/devices/${ids[index]}/send`, {
        method: 'PUT',
        path: '/actuators/led',
        payload: { on: true },
      });
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ code: '2.04', gateway: `gw-${index + 1}`, payload: { on: true } });
      expect(things[index]!.resources.ledOn).toBe(true);
    }

    // Telemetry of every gateway reaches a pub/sub subscriber of hub 1; each value fires one webhook across both hubs.
    for (let value = 1; value <= 10; value++) for (const thing of things) thing.resources.temperature.set(value);
    const seenBy = (id: string) =>
      subscriber.messages
        .filter((m) => m.event === `telemetry/${id}` && m.data.path === '/sensors/temp')
        .map((m) => (m.data.value as { temperature: number }).temperature);
    await waitFor(() => ids.every((id) => seenBy(id).includes(10)), { what: 'value 10 of every gateway on hub 1' });
    await waitFor(() => ids.every((id) => hooksOf(id, 10).length > 0), { what: 'the webhooks of value 10' });
    // A marker after them: by the time its webhook arrives, a second delivery of any earlier one would have too.
    for (const thing of things) thing.resources.temperature.set(11);
    await waitFor(() => ids.every((id) => hooksOf(id, 11).length > 0), { what: 'the marker webhooks' });
    for (const id of ids) {
      for (let value = 1; value <= 10; value++) expect(hooksOf(id, value), `${id} value ${value}`).toHaveLength(1);
    }
    expect(hooks.filter((h) => h.event === 'device.registered')).toHaveLength(3);

    // Hub 1 dies: hub 2 keeps serving, and takes all of the webhooks.
    await hub1.process.kill();
    expect((await devices(hub2.port)).length).toBe(3);
    const { status, body } = await hubApi(hub2.port, 'POST', `/v1/devices/${ids[2]}/send`, {
      method: 'GET',
      path: '/actuators/led',
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ code: '2.05', payload: { on: true } });
    for (let value = 101; value <= 110; value++) for (const thing of things) thing.resources.temperature.set(value);
    await waitFor(() => ids.every((id) => hooksOf(id, 110).length > 0), { what: 'webhooks after hub 1 died' });
    for (const thing of things) thing.resources.temperature.set(111);
    await waitFor(() => ids.every((id) => hooksOf(id, 111).length > 0), {
      what: 'the marker webhooks after hub 1 died',
    });
    for (const id of ids) {
      for (let value = 101; value <= 110; value++) expect(hooksOf(id, value), `${id} value ${value}`).toHaveLength(1);
    }
  });

  test('a hub started late has the whole view at once (retained state); a removed device leaves it', async () => {
    const thing = await gatewayWithThing('gw-late');
    // Values flowing before the hub exists: the device is already registered and retained.
    await waitFor(async () => fs.existsSync(path.join(dir, 'gw-late.db')), { what: 'the gateway store' });
    const late = await hub('hub-late');
    const listed = await waitFor(
      async () => {
        const list = await devices(late.port);
        return list.length === 1 ? list : undefined;
      },
      { what: 'the device from the retained state' },
    );
    expect(listed[0]).toMatchObject({ ep: thing.name, gateway: 'gw-late', gatewayConnected: true, status: 'online' });
    await thing.stop();
    await waitFor(async () => (await devices(late.port)).length === 0, { what: 'the device gone after its removal' });
  });

  test('bad messages on the broker are refused and logged; hub and gateway keep serving; a bad command is answered', async () => {
    const thing = await gatewayWithThing('gw-bad');
    const { process: hubProcess, port } = await hub('hub-bad');
    const id = await waitFor(async () => (await devices(port)).find((d) => d.ep === thing.name)?.id, {
      what: 'the device',
    });
    const peer = await BrokerClient.connect(mosquitto.url, 'bad-peer', ['coregate/gw-bad/result']);
    cleanup.push(() => peer.close());
    await peer.publish('coregate/gw-x/up', '[{"type": "telemetry", "seq": "one"}]');
    await peer.publish('coregate/gw-x/up', 'not json');
    await peer.publish('coregate/gw-x/devices/abc', '{"id": "other"}');
    await peer.publish('coregate/gw-x/status', '{"online": "yes"}');
    await peer.publish('coregate/gw-x/result', '{"type": "hello"}');
    await waitFor(() => hubProcess.count({ msg: 'refused a message from the broker' }) >= 5, {
      what: 'five refusals logged',
    });
    // The gateway answers a command it cannot parse with an error frame naming it, on its result topic.
    await peer.publish('coregate/gw-bad/command', { type: 'command', id: 'c-1', device: id, method: 'GET', path: 'x' });
    const refused = await waitFor(
      () => peer.on('coregate/gw-bad/result')[0]?.json as Record<string, unknown> | undefined,
    );
    expect(refused).toMatchObject({ type: 'error', code: 'invalid_frame', ref: 'c-1' });

    expect((await hubApi(port, 'POST', '/v1/devices/nope/send', { method: 'GET', path: '/x' })).status).toBe(404);
    const { status, body } = await hubApi(port, 'POST', `/v1/devices/${id}/send`, {
      method: 'GET',
      path: '/actuators/led',
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(hubProcess.exited).toBe(false);
    expect((await devices(port)).map((d) => d.id)).toEqual([id]);
  });
});
