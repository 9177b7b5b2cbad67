import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import coap from 'coap';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import type { CoregateProcess } from '../connector/platform-harness.js';
import { MOSQUITTO, Mosquitto, mosquittoVersion } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { BrokerClient, online, startMqttGateway, type Seen } from './harness.js';

/**
 * Part A end to end with real processes: things → `coregate start` (platform.url mqtt://) → a real mosquitto →
 * a client standing in for ThingsBoard, checking the Gateway MQTT API's topics and JSON exactly
 * (thingsboard.io/docs/reference/gateway-mqtt-api/).
 */

const broker = mosquittoVersion();
if (MOSQUITTO === undefined) console.warn('test/mqtt: skipped, mosquitto is not installed (.ci/run installs it)');

let dir: string;
let mosquitto: Mosquitto;
const cleanup: Array<() => Promise<void>> = [];
let producer: NodeJS.Timeout | undefined;

beforeEach(async () => {
  if (MOSQUITTO === undefined) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-tb-'));
  mosquitto = await Mosquitto.start(dir);
});

afterEach(async () => {
  clearInterval(producer);
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  await mosquitto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function tbClient(): Promise<BrokerClient> {
  const client = await BrokerClient.connect(mosquitto.url, 'thingsboard-sim', ['v1/gateway/#']);
  cleanup.push(() => client.close());
  return client;
}

async function gateway(
  platform: Record<string, unknown> = {},
  coapPort = 0,
): Promise<{ gateway: CoregateProcess; coapPort: number }> {
  const started = await startMqttGateway(
    dir,
    mosquitto.url,
    { mqtt: { accessToken: 'GATEWAY_TOKEN' }, ...platform },
    { coapPort },
  );
  cleanup.push(() => started.gateway.stop());
  return started;
}

async function things(coapPort: number, names: string[]): Promise<Thing[]> {
  const started = names.map(
    (name) => new Thing({ log: silentLogger(), name, rd: { host: '127.0.0.1', port: coapPort }, sensorIntervalMs: 0 }),
  );
  for (const thing of started) {
    thing.resources.temperature.set(0);
    cleanup.push(() => thing.stop());
  }
  await Promise.all(started.map((thing) => thing.start()));
  return started;
}

/** A registration with `d` and `et`, straight to the RD (the simulated thing registers with `ep` and `lt` only). */
function register(coapPort: number, query: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port: coapPort, method: 'POST', pathname: '/rd', query });
    req.on('response', (res: { code: string }) => resolve(res.code));
    req.on('error', reject);
    req.end('</sensors/x>;rt="x"');
  });
}

const json = (messages: Seen[]): unknown[] => messages.map((m) => m.json);

/** Every temperature a device's telemetry carried, in arrival order. */
function temperatures(client: BrokerClient, device: string): number[] {
  const values: number[] = [];
  for (const message of client.on('v1/gateway/telemetry')) {
    const entries = (message.json as Record<string, { ts: number; values: Record<string, unknown> }[]>)[device] ?? [];
    for (const entry of entries) {
      const value = entry.values['sensors/temp'] as { temperature: number } | undefined;
      if (value !== undefined) values.push(value.temperature);
    }
  }
  return values;
}

/** Device id → name, from the attributes the gateway published. */
function idsByName(client: BrokerClient): Map<string, string> {
  const ids = new Map<string, string>();
  for (const message of client.on('v1/gateway/attributes')) {
    for (const [name, attributes] of Object.entries(message.json as Record<string, { id?: string }>)) {
      if (typeof attributes.id === 'string') ids.set(name, attributes.id);
    }
  }
  return ids;
}

/** Temperatures still in a stopped gateway's outbox, by device id. */
function outboxTemperatures(file: string): Map<string, number[]> {
  const db = new Database(file, { readonly: true });
  try {
    const held = new Map<string, number[]>();
    for (const row of db.prepare("SELECT body FROM outbox WHERE kind = 'telemetry' ORDER BY seq").all() as {
      body: string;
    }[]) {
      const body = JSON.parse(row.body) as { device: string; path: string; value: { temperature: number } };
      if (body.path === '/sensors/temp')
        held.set(body.device, [...(held.get(body.device) ?? []), body.value.temperature]);
    }
    return held;
  } finally {
    db.close();
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(MOSQUITTO === undefined)(`ThingsBoard Gateway MQTT API through ${broker}`, () => {
  test('connect, client attributes with the RD metadata, batched telemetry: exact topics and JSON', async () => {
    const tb = await tbClient();
    const { gateway: gw, coapPort } = await gateway();
    await online(gw);
    const [thing] = await things(coapPort, ['tb-1']);
    expect(await register(coapPort, 'ep=node7&d=site1&et=oic.d.sensor&lt=600')).toBe('2.01');

    await waitFor(() => tb.on('v1/gateway/connect').length >= 2, { what: 'two connects' });
    expect(json(tb.on('v1/gateway/connect'))).toEqual(
      expect.arrayContaining([
        { device: 'tb-1', type: 'default' },
        { device: 'site1/node7', type: 'oic.d.sensor' },
      ]),
    );
    const attributes = await waitFor(() =>
      tb.on('v1/gateway/attributes').find((m) => (m.json as Record<string, unknown>)['site1/node7'] !== undefined),
    );
    expect(attributes.json).toEqual({
      'site1/node7': {
        id: expect.stringMatching(/^[a-z2-9]{8}$/),
        ep: 'node7',
        d: 'site1',
        et: 'oic.d.sensor',
        lt: 600,
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        status: 'online',
        resources: [{ href: '/sensors/x', attrs: { rt: 'x' } }],
      },
    });

    await waitFor(() => temperatures(tb, 'tb-1').includes(0), { what: 'the first observed value' });
    for (let i = 1; i <= 30; i++) thing!.resources.temperature.set(i);
    await waitFor(() => temperatures(tb, 'tb-1').at(-1) === 30, { what: 'value 30' });
    const telemetry = tb.on('v1/gateway/telemetry');
    for (const message of telemetry) {
      // {"Device A": [{"ts": 1483228800000, "values": {"temperature": 42}}]}
      for (const entries of Object.values(message.json as Record<string, unknown[]>)) {
        for (const entry of entries) {
          expect(entry).toEqual({ ts: expect.any(Number), values: expect.any(Object) });
          expect(Object.keys((entry as { values: object }).values)).toEqual([expect.stringMatching(/^sensors\//)]);
        }
      }
    }
    expect(temperatures(tb, 'tb-1')).toEqual(range(0, 30));
    expect(telemetry.length, 'values batched per publish').toBeLessThanOrEqual(31);
    expect(gw.exited).toBe(false);
  });

  test('RPC as ThingsBoard publishes it runs on the thing; the reply carries the same id; bad RPCs are answered', async () => {
    const tb = await tbClient();
    const { gateway: gw, coapPort } = await gateway({
      rpc: { setLed: { method: 'PUT', path: '/actuators/led' } },
      sharedAttributes: { led: { method: 'PUT', path: '/actuators/led' } },
    });
    await online(gw);
    const [thing] = await things(coapPort, ['tb-rpc']);
    await waitFor(() => tb.on('v1/gateway/connect').length >= 1, { what: 'the device connected' });
    const reply = (id: number) =>
      waitFor(() => tb.on('v1/gateway/rpc').find((m) => (m.json as { id?: unknown } | undefined)?.id === id)?.json, {
        what: `reply ${id}`,
      });

    await tb.publish('v1/gateway/rpc', {
      device: 'tb-rpc',
      data: { id: 1, method: 'GET', params: { path: '/actuators/led' } },
    });
    expect(await reply(1)).toEqual({ device: 'tb-rpc', id: 1, data: { code: '2.05', ct: 50, payload: { on: false } } });

    // A ThingsBoard widget's named method (platform.rpc), its params as the payload.
    await tb.publish('v1/gateway/rpc', { device: 'tb-rpc', data: { id: 2, method: 'setLed', params: { on: true } } });
    expect(await reply(2)).toEqual({ device: 'tb-rpc', id: 2, data: { code: '2.04', ct: 50, payload: { on: true } } });
    expect(thing!.resources.ledOn).toBe(true);

    await tb.publish('v1/gateway/rpc', '{"device": "tb-rpc", "data": ');
    await tb.publish('v1/gateway/rpc', { device: 'nobody', data: { id: 3, method: 'GET', params: { path: '/x' } } });
    await tb.publish('v1/gateway/rpc', { device: 'tb-rpc', data: { id: 4, method: 'reboot' } });
    await tb.publish('v1/gateway/rpc', {
      device: 'tb-rpc',
      data: { id: 5, method: 'PUT', params: { path: 'no-slash' } },
    });
    expect(await reply(3)).toEqual({
      device: 'nobody',
      id: 3,
      data: { error: { code: 'unknown_device', message: 'no device named nobody' } },
    });
    expect(await reply(4)).toMatchObject({
      id: 4,
      data: { error: { code: 'bad_request', message: expect.stringContaining('reboot') } },
    });
    expect(await reply(5)).toMatchObject({ id: 5, data: { error: { code: 'bad_request' } } });
    await gw.logged({ msg: 'refused a message from the broker', topic: 'v1/gateway/rpc' });

    // A shared attribute update (platform.sharedAttributes) becomes its CoAP request; unmapped ones are ignored.
    await tb.publish('v1/gateway/attributes', { device: 'tb-rpc', data: { led: { on: false }, firmware: '1.2' } });
    await waitFor(() => thing!.resources.ledOn === false, { what: 'the LED switched off by the attribute' });

    // Still serving after the bad ones.
    await tb.publish('v1/gateway/rpc', {
      device: 'tb-rpc',
      data: { id: 6, method: 'GET', params: { path: '/actuators/led' } },
    });
    expect(await reply(6)).toMatchObject({ id: 6, data: { code: '2.05', payload: { on: false } } });
    expect(tb.on('v1/gateway/rpc').filter((m) => (m.json as { id?: unknown } | undefined)?.id === 2)).toHaveLength(1);
  });

  test('RPC published while the gateway is away is delivered and answered when it returns (persistent session)', async () => {
    const tb = await tbClient();
    const first = await gateway();
    await online(first.gateway);
    await things(first.coapPort, ['tb-away']);
    await waitFor(() => tb.on('v1/gateway/connect').length >= 1, { what: 'the device connected' });
    await first.gateway.stop();
    await tb.publish('v1/gateway/rpc', {
      device: 'tb-away',
      data: { id: 9, method: 'GET', params: { path: '/actuators/led' } },
    });
    const second = await gateway({}, first.coapPort);
    await online(second.gateway);
    const answer = await waitFor(
      () => tb.on('v1/gateway/rpc').find((m) => (m.json as { id?: unknown }).id === 9)?.json,
      {
        what: 'the reply to the RPC sent while away',
      },
    );
    expect(answer).toEqual({ device: 'tb-away', id: 9, data: { code: '2.05', ct: 50, payload: { on: false } } });
  });

  test('broker restarted, then gateway restarted, mid-stream: every value exactly once, in order per device', async () => {
    const tb = await tbClient();
    const first = await gateway();
    await online(first.gateway);
    const fleet = await things(first.coapPort, ['s-a', 's-b', 's-c']);
    await waitFor(() => fleet.every((t) => temperatures(tb, t.name).includes(0)), { what: 'observed' });
    const counters = new Map(fleet.map((t) => [t, 0]));
    producer = setInterval(() => {
      for (const [thing, last] of counters) {
        counters.set(thing, last + 1);
        thing.resources.temperature.set(last + 1);
      }
    }, 10);
    const progress = () => temperatures(tb, 's-a').length;
    await waitFor(() => progress() > 30, { what: 'streaming' });

    await mosquitto.stop();
    const whileDown = counters.get(fleet[0]!)!;
    await waitFor(() => counters.get(fleet[0]!)! > whileDown + 50, {
      what: 'values produced while the broker is down',
    });
    await mosquitto.start();
    await online(first.gateway, 1);
    const back = progress();
    await waitFor(() => progress() > back + 30, { what: 'streaming after the broker restart', timeoutMs: 20_000 });

    // Values the thing produces while no gateway runs are never observed (RFC 7641 tells the current state only);
    // everything the gateway observed, whether already published or still in its outbox, must arrive once.
    const beforeStop = fleet.map((t) => temperatures(tb, t.name).at(-1)!);
    await first.gateway.stop();
    const held = outboxTemperatures(path.join(dir, 'gateway.db'));
    const second = await gateway({}, first.coapPort);
    await online(second.gateway);
    const again = progress();
    await waitFor(() => progress() > again + 30, { what: 'streaming after the gateway restart', timeoutMs: 20_000 });
    clearInterval(producer);
    const finals = fleet.map((t) => counters.get(t)!);
    await waitFor(() => fleet.every((t, i) => temperatures(tb, t.name).at(-1) === finals[i]), {
      what: 'the last values',
      timeoutMs: 20_000,
    });
    expect(tb.sessions.slice(1), 'the test client kept its session across the broker restart').toEqual([true]);
    const ids = idsByName(tb);
    fleet.forEach((thing, i) => {
      const values = temperatures(tb, thing.name).filter((v) => v > 0);
      expect(values, `${thing.name}: in order, none twice`).toEqual([...new Set(values)].sort((x, y) => x - y));
      expect(values.slice(0, beforeStop[i]!), `${thing.name}: every value across the broker restart`).toEqual(
        range(1, beforeStop[i]!),
      );
      for (const value of held.get(ids.get(thing.name)!) ?? [])
        expect(values, `${thing.name}: its outbox`).toContain(value);
    });
  });
});
