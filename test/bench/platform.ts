import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { CoapClient } from '../../src/coap/client.js';
import { silentLogger } from '../../src/log.js';
import { Fleet, type Thing } from '../../src/thing/index.js';

/**
 * Platform benchmark (issue 4). The hub (`coregate hub`) and the gateway (`coregate start`) run as child
 * processes, so their RSS is their own; 1,000 things, the callers and the subscribers live in this process.
 * 1. Command round trip HTTP → hub → gateway → thing → back, beside a direct CoAP GET to the same thing
 *    and an HTTP round trip to the hub alone, sequentially (p50/p99), then with 100 concurrent callers (commands/s).
 * 2. Telemetry: the things' observed sensor is driven at a paced rate; every value must reach each of 10
 *    WebSocket subscribers exactly once and in order per device; delivered values/s beside the produced rate.
 */

const THINGS = 1_000;
const SUBSCRIBERS = 10;
const SEQUENTIAL = 1_500;
const CONCURRENT_CALLERS = 100;
const CONCURRENT_SECONDS = 5;
const TELEMETRY_RATES = [5_000, 8_000];
const TELEMETRY_SECONDS = 6;
const API_KEY = 'bench-key';
const GATEWAY_ID = 'bench-gw';
const SECRET = 'bench-secret';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'dist/src/cli.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-platform-'));
const log = silentLogger();
const children: ChildProcess[] = [];

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4').bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

function startProcess(name: string, args: string[], config: object): ChildProcess {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [cli, ...args, '-c', file], {
    cwd: dir,
    env: { ...process.env, LOG_LEVEL: 'warn', COREGATE_DISCOVERY: 'off' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited early (code ${code}, signal ${signal})`);
      process.exit(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => (clearTimeout(timer), resolve()));
          child.kill('SIGTERM');
        }),
    ),
  );
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function rssOf(child: ChildProcess): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
const ms = (value: number): string => value.toFixed(3);

async function timeSequential(
  count: number,
  once: (i: number) => Promise<void>,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 100; i++) await once(i); // warm-up: JIT, connections, caches
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await once(i);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

async function throughput(callers: number, seconds: number, once: (i: number) => Promise<void>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        await once(next++);
        done++;
      }
    }),
  );
  return done / seconds;
}

interface Subscriber {
  ws: WebSocket;
  received: Map<string, number[]>;
  count: number;
  lastAt: number;
}

async function subscriber(hubPort: number, index: number): Promise<Subscriber> {
  const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/subscribe?clientName=bench-${index}&apiKey=${API_KEY}`);
  const sub: Subscriber = { ws, received: new Map(), count: 0, lastAt: 0 };
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.on('message', (data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      event?: string;
      data?: { device: string; path: string; value: { temperature: number } };
    };
    if (message.data?.path !== '/sensors/temp') return;
    sub.count++;
    sub.lastAt = performance.now();
    const values = sub.received.get(message.data.device) ?? [];
    values.push(message.data.value.temperature);
    sub.received.set(message.data.device, values);
  });
  ws.send(JSON.stringify({ action: 'subscribe', event: 'telemetry' }));
  return sub;
}

async function main(): Promise<void> {
  const hubPort = await freeTcpPort();
  const coapPort = await freeUdpPort();
  const hub = startProcess('hub', ['hub'], {
    hub: {
      host: '127.0.0.1',
      port: hubPort,
      db: path.join(dir, 'hub.db'),
      apiKey: API_KEY,
      gateways: { [GATEWAY_ID]: SECRET },
    },
  });
  const gateway = startProcess('gateway', ['start'], {
    db: path.join(dir, 'gateway.db'),
    coap: { bind: '127.0.0.1', port: coapPort },
    discovery: { enabled: false },
    pinger: { enabled: false },
    observer: { defaultMaxAgeSeconds: 600 },
    platform: { url: `ws://127.0.0.1:${hubPort}/v1/gateway`, gatewayId: GATEWAY_ID, secret: SECRET },
  });
  const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  const getJson = async (route: string): Promise<unknown> => {
    const res = await fetch(`http://127.0.0.1:${hubPort}${route}`, { headers });
    return res.json();
  };
  await until('the hub', () => getJson('/v1/devices').catch(() => undefined));

  const setupStarted = performance.now();
  const fleet = new Fleet({
    log,
    count: THINGS,
    namePrefix: 'bench',
    rd: { host: '127.0.0.1', port: coapPort },
    sensorIntervalMs: 0,
    lifetime: 3600,
  });
  await fleet.start();
  const ids = await until('1,000 devices at the hub', async () => {
    const { devices } = (await getJson('/v1/devices')) as { devices: { id: string; ep: string }[] };
    return devices.length === THINGS ? new Map(devices.map((d) => [d.ep, d.id])) : undefined;
  });
  await until('every thing observed', () =>
    fleet.things.every((thing) => thing.observerCount > 0) ? true : undefined,
  );
  console.log(
    `setup: ${THINGS} things registered and observed through the gateway in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`,
  );

  // ---- 1. commands ----
  const target: Thing = fleet.things[0]!;
  const targetId = ids.get(target.name)!;
  const coap = new CoapClient({ log, bind: '127.0.0.1' });
  const direct = (thing: Thing) => async (): Promise<void> => {
    const reply = await coap.request({ ...thing.address(), method: 'GET', path: '/sensors/temp', timeoutMs: 5_000 });
    if (reply.code !== '2.05') throw new Error(`direct GET answered ${reply.code}`);
  };
  const viaHub = (id: string) => async (): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${hubPort}/v1/devices/${id}/send`, {
      method: 'POST',
      headers,
      body: '{"method":"GET","path":"/sensors/temp"}',
    });
    const body = (await res.json()) as { code?: string };
    if (res.status !== 200 || body.code !== '2.05')
      throw new Error(`send answered ${res.status} ${JSON.stringify(body)}`);
  };
  const hubOnly = async (): Promise<void> => {
    await getJson(`/v1/devices/${targetId}`);
  };
  const coapSeq = await timeSequential(SEQUENTIAL, direct(target));
  const hubSeq = await timeSequential(SEQUENTIAL, hubOnly);
  const sendSeq = await timeSequential(SEQUENTIAL, viaHub(targetId));
  const spread = fleet.things.slice(0, CONCURRENT_CALLERS);
  const coapRate = await throughput(CONCURRENT_CALLERS, CONCURRENT_SECONDS, (i) =>
    direct(spread[i % spread.length]!)(),
  );
  const sendRate = await throughput(CONCURRENT_CALLERS, CONCURRENT_SECONDS, (i) =>
    viaHub(ids.get(spread[i % spread.length]!.name)!)(),
  );
  await coap.close();

  console.log('\ncommand round trip (GET /sensors/temp, sequential, ms)');
  console.log('| path | p50 | p99 | commands/s with 100 callers |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| direct CoAP to the thing (baseline) | ${ms(coapSeq.p50)} | ${ms(coapSeq.p99)} | ${coapRate.toFixed(0)} |`,
  );
  console.log(`| HTTP GET /v1/devices/:id (hub alone) | ${ms(hubSeq.p50)} | ${ms(hubSeq.p99)} | |`);
  console.log(
    `| HTTP send → hub → gateway → thing | ${ms(sendSeq.p50)} | ${ms(sendSeq.p99)} | ${sendRate.toFixed(0)} |`,
  );
  const added = sendSeq.p50 - coapSeq.p50;
  console.log(
    `added by the platform at p50: ${ms(added)} ms (target ≤ 2 ms: ${added <= 2 ? 'met' : 'MISSED'}); throughput ${(sendRate / coapRate).toFixed(2)}× direct CoAP`,
  );

  // ---- 2. telemetry ----
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, (_, i) => subscriber(hubPort, i)));
  await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(
    `\ntelemetry: ${THINGS} things → gateway → hub → ${SUBSCRIBERS} subscribers, ${TELEMETRY_SECONDS} s per rate`,
  );
  console.log(
    '| target values/s | produced | delivered/s per subscriber (min) | lost (worst subscriber) | out of order | delivered ÷ produced |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  let allDelivered = true;
  for (const rate of TELEMETRY_RATES) {
    for (const sub of subs) sub.received.clear();
    const counted = subs.map((sub) => sub.count);
    const produced = new Map<string, number[]>();
    let total = 0;
    const started = performance.now();
    const tickMs = 10;
    let next = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = performance.now() - started;
        if (elapsed >= TELEMETRY_SECONDS * 1000) {
          clearInterval(timer);
          return resolve();
        }
        const due = Math.floor((elapsed / 1000) * rate) - total;
        for (let i = 0; i < due; i++) {
          const thing = fleet.things[next++ % THINGS]!;
          thing.resources.temperature.drift();
          const values = produced.get(ids.get(thing.name)!) ?? [];
          values.push(thing.resources.temperature.value);
          produced.set(ids.get(thing.name)!, values);
          total++;
        }
      }, tickMs);
    });
    const expected = (sub: Subscriber, i: number): number => sub.count - counted[i]!;
    await until(
      'the subscribers to drain',
      () => (subs.every((sub, i) => expected(sub, i) >= total) ? true : undefined),
      20_000,
    ).catch(() => undefined);
    const lastAt = Math.max(...subs.map((sub) => sub.lastAt));
    const deliveredRate = Math.min(...subs.map((sub, i) => expected(sub, i))) / ((lastAt - started) / 1000);
    let lost = 0;
    let disorder = 0;
    for (const sub of subs) {
      let subLost = 0;
      for (const [device, values] of produced) {
        const got = sub.received.get(device) ?? [];
        subLost += Math.max(0, values.length - got.length);
        if (got.length !== values.length || got.some((value, i) => value !== values[i])) disorder++;
      }
      lost = Math.max(lost, subLost);
    }
    allDelivered &&= lost === 0 && disorder === 0;
    console.log(
      `| ${rate} | ${total} | ${deliveredRate.toFixed(0)} | ${lost} | ${disorder} device streams | ${(deliveredRate / (total / TELEMETRY_SECONDS)).toFixed(2)} |`,
    );
  }
  for (const sub of subs) sub.ws.terminate();

  const hubRss = rssOf(hub);
  const gatewayRss = rssOf(gateway);
  console.log('\nmemory (MiB)');
  console.log('| process | RSS now | peak RSS |');
  console.log('| --- | --- | --- |');
  console.log(`| hub | ${hubRss.rss.toFixed(0)} | ${hubRss.peak.toFixed(0)} |`);
  console.log(`| gateway (${THINGS} devices) | ${gatewayRss.rss.toFixed(0)} | ${gatewayRss.peak.toFixed(0)} |`);
  console.log(`\nevery value delivered once and in order: ${allDelivered ? 'yes' : 'NO'}`);

  await fleet.stop();
}

const watchdog = setTimeout(() => {
  console.error('platform bench: over 90 s, giving up');
  void stopAll().then(() => process.exit(1));
}, 90_000);
try {
  await main();
} catch (err) {
  console.error(`platform bench failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
}
