import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'mqtt';
import WebSocket from 'ws';
import { silentLogger } from '../../src/log.js';
import { Fleet, type Thing } from '../../src/thing/index.js';
import { MOSQUITTO, Mosquitto, mosquittoVersion } from '../helpers/mosquitto.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { BenchProcesses, until } from './processes.js';

/**
 * The platform paths side by side in one run, on one machine: the WebSocket link (gateway → `coregate hub`),
 * "coregate over MQTT" (gateway → mosquitto → `coregate hub --broker`) and ThingsBoard's Gateway API (gateway →
 * mosquitto → a subscriber standing in for ThingsBoard). Each gateway has its own fleet of things; each path is
 * measured alone (the others idle):
 * 1. command round trip HTTP → hub → gateway → thing (WebSocket and broker hubs), sequential p50/p99;
 * 2. telemetry: the fleet's observed sensor driven at a paced rate; values/s arriving at one subscriber
 *    (a hub's pub/sub, or the MQTT subscriber on `v1/gateway/telemetry`), and values lost or out of order.
 */

const QUICK = process.env.BENCH_QUICK === '1';
const THINGS = QUICK ? 100 : 300;
const COMMANDS = QUICK ? 200 : 500;
const RATE = QUICK ? 2_000 : 4_000;
const SECONDS = QUICK ? 3 : 5;
const API_KEY = 'bench-key';
const SECRET = 'bench-secret';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'dist/src/app/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-broker-'));
const log = silentLogger();
const processes = new BenchProcesses(dir, cli);

const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };

async function devicesOf(port: number): Promise<Map<string, string> | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/devices`, { headers }).catch(() => undefined);
  if (res === undefined || res.status !== 200) return undefined;
  const { devices } = (await res.json()) as { devices: { id: string; ep: string }[] };
  return new Map(devices.map((d) => [d.ep, d.id]));
}

function gatewayConfig(name: string, coapPort: number, url: string, mqtt?: object): object {
  return {
    log: { level: 'warn' },
    db: path.join(dir, `${name}.db`),
    coap: { bind: '127.0.0.1', port: coapPort },
    discovery: { enabled: false },
    pinger: { enabled: false },
    observer: { defaultMaxAgeSeconds: 600 },
    platform: { url, gatewayId: name, secret: SECRET, ...(mqtt && { mqtt }) },
  };
}

async function fleetOf(prefix: string, coapPort: number): Promise<Fleet> {
  const fleet = new Fleet({
    log,
    count: THINGS,
    namePrefix: prefix,
    rd: { host: '127.0.0.1', port: coapPort },
    sensorIntervalMs: 0,
    lifetime: 3600,
  });
  await fleet.start();
  return fleet;
}

/** Things the gateway observes, once the count has been still for 2 s. */
async function observedOf(fleet: Fleet): Promise<Thing[]> {
  let settled = { count: -1, since: 0 };
  return until('the observations to settle', () => {
    const things = fleet.things.filter((thing) => thing.observerCount > 0);
    if (things.length !== settled.count) settled = { count: things.length, since: performance.now() };
    return things.length === THINGS || performance.now() - settled.since > 2_000 ? things : undefined;
  });
}

async function commandTimes(port: number, id: string): Promise<{ p50: number; p99: number }> {
  const once = async (): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/devices/${id}/send`, {
      method: 'POST',
      headers,
      body: '{"method":"GET","path":"/sensors/temp"}',
    });
    if (res.status !== 200) throw new Error(`send answered ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  for (let i = 0; i < 50; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (p: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

/** What one subscriber collected: values per device name or id, and when the last arrived. */
interface Collected {
  values: Map<string, number[]>;
  count: number;
  lastAt: number;
  close(): void;
}

async function hubSubscriber(port: number): Promise<Collected> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/subscribe?clientName=bench&apiKey=${API_KEY}`);
  const got: Collected = { values: new Map(), count: 0, lastAt: 0, close: () => ws.terminate() };
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      data?: { device: string; path: string; value: { temperature: number } };
    };
    if (message.data?.path !== '/sensors/temp') return;
    record(got, message.data.device, message.data.value.temperature);
  });
  ws.send(JSON.stringify({ action: 'subscribe', event: 'telemetry' }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  return got;
}

async function thingsboardSubscriber(url: string): Promise<Collected> {
  const client = connect(url, { clientId: 'bench-thingsboard', protocolVersion: 5 });
  const got: Collected = { values: new Map(), count: 0, lastAt: 0, close: () => void client.end(true) };
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.on('message', (_topic, payload) => {
    const batch = JSON.parse(payload.toString()) as Record<
      string,
      { values: Record<string, { temperature?: number }> }[]
    >;
    for (const [device, entries] of Object.entries(batch)) {
      for (const entry of entries) {
        const value = entry.values['sensors/temp']?.temperature;
        if (value !== undefined) record(got, device, value);
      }
    }
  });
  await client.subscribeAsync({ 'v1/gateway/telemetry': { qos: 1 } });
  return got;
}

function record(got: Collected, device: string, value: number): void {
  got.count++;
  got.lastAt = performance.now();
  const values = got.values.get(device) ?? [];
  values.push(value);
  got.values.set(device, values);
}

interface TelemetryFigures {
  produced: number;
  delivered: number;
  rate: number;
  outOfOrder: number;
}

/** Drives RATE changes/s over `things` for SECONDS; waits until the subscriber is quiet for 1 s. */
async function telemetry(things: Thing[], keyOf: (thing: Thing) => string, sub: Collected): Promise<TelemetryFigures> {
  await until('the subscriber to go quiet', () => (performance.now() - sub.lastAt > 500 ? true : undefined));
  sub.values.clear();
  const before = sub.count;
  const produced = new Map<string, number[]>();
  let total = 0;
  let next = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      if (elapsed >= SECONDS * 1000) {
        clearInterval(timer);
        return resolve();
      }
      for (const due = Math.floor((elapsed / 1000) * RATE); total < due; total++) {
        const thing = things[next++ % things.length]!;
        thing.resources.temperature.drift();
        const key = keyOf(thing);
        produced.set(key, [...(produced.get(key) ?? []), thing.resources.temperature.value]);
      }
    }, 10);
  });
  let quiet = { count: -1, since: 0 };
  await until('the subscriber to drain', () => {
    if (sub.count !== quiet.count) quiet = { count: sub.count, since: performance.now() };
    return performance.now() - quiet.since > 1_000 ? true : undefined;
  });
  // CoAP Observe may skip a state (RFC 7641 §4.5): what arrives must be an in-order subsequence of what was produced.
  let outOfOrder = 0;
  for (const [device, got] of sub.values) {
    const values = produced.get(device) ?? [];
    let at = 0;
    for (const value of got) {
      while (at < values.length && values[at] !== value) at++;
      if (at++ >= values.length) {
        outOfOrder++;
        break;
      }
    }
  }
  const delivered = sub.count - before;
  return { produced: total, delivered, rate: delivered / ((sub.lastAt - started) / 1000), outOfOrder };
}

const SYNTHETIC_VALUES = QUICK ? 50_000 : 200_000;
const SYNTHETIC_BATCH = 500;
const SYNTHETIC_WINDOW = 4;

/** Counts telemetry frames arriving at a plain MQTT subscriber of the `up` topics. */
async function upCounter(url: string, batchSize: number): Promise<{ count: number; lastAt: number; close(): void }> {
  const client = connect(url, { clientId: `bench-up-counter-${batchSize}`, protocolVersion: 5 });
  const got = { count: 0, lastAt: 0, close: () => void client.end(true) };
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.on('message', (_topic, payload) => {
    // Every batch is SYNTHETIC_BATCH frames: counted without parsing, so that this process is not what limits.
    if (payload.length > 0) got.count += batchSize;
    got.lastAt = performance.now();
  });
  await client.subscribeAsync({ 'coregate/+/up': { qos: 1 } });
  return got;
}

async function syntheticUp(
  url: string,
  hubPort: number,
  batchSize: number,
  values: number,
): Promise<{ broker: { count: number; rate: number }; hub: { count: number; rate: number } }> {
  const counter = await upCounter(url, batchSize);
  const gateway = `bench-synthetic-${batchSize}`;
  const client = connect(url, { clientId: gateway, protocolVersion: 5 });
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  // Online, so that the hub's /socket/info lists it with its count of frames received.
  await client.publishAsync(`coregate/${gateway}/status`, JSON.stringify({ online: true, ts: Date.now() }), {
    qos: 1,
    retain: true,
  });
  const hubReceived = async (): Promise<number> => {
    const info = await new Promise<{ gateways: { id: string; received: number }[] }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/socket/info?apiKey=${API_KEY}`);
      ws.once('message', (data: Buffer) => {
        resolve(JSON.parse(data.toString()));
        ws.terminate();
      });
      ws.once('error', reject);
    });
    return info.gateways.find((g) => g.id === gateway)?.received ?? 0;
  };
  const hub = { count: 0, lastAt: 0 };
  const batches = values / batchSize;
  let seq = 0;
  const started = performance.now();
  const batch = (): string =>
    JSON.stringify(
      Array.from({ length: batchSize }, () => {
        seq++;
        const value = { temperature: seq, unit: 'Cel' };
        return {
          type: 'telemetry',
          seq,
          device: `syn-${seq % 1000}`,
          path: '/sensors/temp',
          ct: 50,
          value,
          ts: Date.now(),
        };
      }),
    );
  let sent = 0;
  await Promise.all(
    Array.from({ length: SYNTHETIC_WINDOW }, async () => {
      while (sent < batches) {
        sent++;
        await client.publishAsync(`coregate/${gateway}/up`, batch(), { qos: 1 });
      }
    }),
  );
  await until('the broker subscriber', () => (counter.count >= values ? true : undefined), 60_000).catch(
    () => undefined,
  );
  await until(
    'the hub',
    async () => {
      const received = await hubReceived();
      if (received > hub.count) Object.assign(hub, { count: received, lastAt: performance.now() });
      return received >= values || performance.now() - hub.lastAt > 3_000 ? true : undefined;
    },
    60_000,
  ).catch(() => undefined);
  const rate = (got: { count: number; lastAt: number }) => got.count / ((got.lastAt - started) / 1000);
  const result = { broker: { count: counter.count, rate: rate(counter) }, hub: { count: hub.count, rate: rate(hub) } };
  counter.close();
  await client.publishAsync(`coregate/${gateway}/status`, '', { qos: 1, retain: true });
  await client.endAsync();
  return result;
}

async function main(): Promise<void> {
  if (MOSQUITTO === undefined) {
    console.log('broker bench: skipped, mosquitto is not installed (.ci/run installs it)');
    return;
  }
  const broker = await Mosquitto.start(dir);
  const [wsHubPort, brokerHubPort] = [await freeTcpPort(), await freeTcpPort()];
  const [wsCoap, mqttCoap, tbCoap] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
  processes.start('ws-hub', ['hub'], {
    log: { level: 'warn' },
    hub: {
      host: '127.0.0.1',
      port: wsHubPort,
      db: path.join(dir, 'hub.db'),
      apiKey: API_KEY,
      gateways: { 'gw-ws': SECRET },
    },
  });
  processes.start('broker-hub', ['hub', '--broker', broker.url], {
    log: { level: 'warn' },
    hub: { host: '127.0.0.1', port: brokerHubPort, apiKey: API_KEY },
  });
  processes.start('gw-ws', ['start'], gatewayConfig('gw-ws', wsCoap, `ws://127.0.0.1:${wsHubPort}/v1/gateway`));
  processes.start('gw-mqtt', ['start'], gatewayConfig('gw-mqtt', mqttCoap, broker.url, { topics: 'coregate' }));
  processes.start('gw-tb', ['start'], gatewayConfig('gw-tb', tbCoap, broker.url, { accessToken: 'bench-token' }));
  await until('the hubs', async () =>
    (await devicesOf(wsHubPort)) && (await devicesOf(brokerHubPort)) ? true : undefined,
  );

  const setup = performance.now();
  const fleets = {
    ws: await fleetOf('ws', wsCoap),
    mqtt: await fleetOf('mq', mqttCoap),
    tb: await fleetOf('tb', tbCoap),
  };
  const wsIds = await until('the WebSocket hub devices', async () =>
    (await devicesOf(wsHubPort))?.size === THINGS ? devicesOf(wsHubPort) : undefined,
  );
  const brokerIds = await until('the broker hub devices', async () =>
    (await devicesOf(brokerHubPort))?.size === THINGS ? devicesOf(brokerHubPort) : undefined,
  );
  const observed = {
    ws: await observedOf(fleets.ws),
    mqtt: await observedOf(fleets.mqtt),
    tb: await observedOf(fleets.tb),
  };
  console.log(
    `${mosquittoVersion()}; ${THINGS} things per gateway, observed ${observed.ws.length} / ${observed.mqtt.length} / ${observed.tb.length}; setup ${((performance.now() - setup) / 1000).toFixed(1)} s`,
  );

  const wsCommands = await commandTimes(wsHubPort, wsIds!.get(fleets.ws.things[0]!.name)!);
  const brokerCommands = await commandTimes(brokerHubPort, brokerIds!.get(fleets.mqtt.things[0]!.name)!);
  console.log(`\ncommand round trip HTTP → hub → gateway → thing (GET /sensors/temp, ${COMMANDS} sequential, ms)`);
  console.log('| path | p50 | p99 |');
  console.log('| --- | --- | --- |');
  console.log(`| WebSocket link (coregate hub) | ${wsCommands.p50.toFixed(2)} | ${wsCommands.p99.toFixed(2)} |`);
  console.log(
    `| broker (mosquitto, coregate hub --broker) | ${brokerCommands.p50.toFixed(2)} | ${brokerCommands.p99.toFixed(2)} |`,
  );

  const rows: [string, TelemetryFigures][] = [];
  const wsSub = await hubSubscriber(wsHubPort);
  rows.push(['WebSocket link → hub pub/sub', await telemetry(observed.ws, (t) => wsIds!.get(t.name)!, wsSub)]);
  wsSub.close();
  const brokerSub = await hubSubscriber(brokerHubPort);
  rows.push([
    'coregate over MQTT → broker hub pub/sub',
    await telemetry(observed.mqtt, (t) => brokerIds!.get(t.name)!, brokerSub),
  ]);
  brokerSub.close();
  const tbSub = await thingsboardSubscriber(broker.url);
  rows.push(['ThingsBoard Gateway API → MQTT subscriber', await telemetry(observed.tb, (t) => t.name, tbSub)]);
  tbSub.close();
  console.log(`\ntelemetry: ${RATE} changes/s for ${SECONDS} s over the observed things, one subscriber`);
  console.log('| path | changed at the things | delivered | devices out of order | delivered values/s |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, f] of rows)
    console.log(`| ${name} | ${f.produced} | ${f.delivered} | ${f.outOfOrder} | ${f.rate.toFixed(0)} |`);

  // ---- capacity without things: a synthetic gateway publishing coregate/<gw>/up batches as fast as PUBACKs allow ----
  console.log(
    `\ncapacity: a synthetic gateway publishes telemetry frames to coregate/<gw>/up as fast as PUBACKs allow (${SYNTHETIC_WINDOW} publishes in flight)`,
  );
  console.log(
    '| frames per publish | values | broker alone: values/s at an MQTT subscriber | broker hub: values/s it took (/socket/info) |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const [batchSize, values] of [
    [SYNTHETIC_BATCH, SYNTHETIC_VALUES],
    [1, SYNTHETIC_VALUES / 10],
  ] as const) {
    const synthetic = await syntheticUp(broker.url, brokerHubPort, batchSize, values);
    console.log(
      `| ${batchSize} | ${values} | ${synthetic.broker.rate.toFixed(0)} (${synthetic.broker.count}) | ${synthetic.hub.rate.toFixed(0)} (${synthetic.hub.count}) |`,
    );
  }

  await Promise.all(Object.values(fleets).map((fleet) => fleet.stop()));
  await processes.stopAll();
  await broker.stop();
}

await processes.run('broker', 240_000, main);
