import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Observer, type ObserverDeps } from '../../observer/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus, type Telemetry } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import type { Attrs } from '../../src/coap/link-format.js';
import { Fleet } from '../../src/thing/index.js';
import { registerInStore } from '../observer/registration.js';

/**
 * Observer benchmark, loopback only. 1,000 simulated things (in child processes, so their
 * servers do not share the Observer's event loop or its RSS), each with two observed resources:
 * /sensors/temp (JSON) and /sensors/hum (SenML JSON). The things are driven at paced rates with
 * values that only ever grow, so the Observer's bus output can be checked for loss, duplicates and
 * order. Baseline: the notifications the things actually sent in the same window.
 */

const THINGS = Number(process.env.BENCH_THINGS ?? 1_000);
const CHILDREN = 2;
const RATES = (process.env.BENCH_RATES ?? '5000,10000').split(',').map(Number);
const SECONDS = 8;
const TICK_MS = 5;
const TARGET_RATE = 5_000;
const TARGET_RSS_MB = 250;
const log = silentLogger();

type ToChild = { drive: { rate: number; seconds: number } } | 'stop';
type FromChild = { ports: number[] } | { sent: number };

/** A share of the things; on `drive`, sets one sensor after another to a growing value at the paced rate. */
async function thingsChild(count: number): Promise<void> {
  const fleet = new Fleet({ log, count, registration: 'none', sensorIntervalMs: 0, startConcurrency: 100 });
  await fleet.start();
  const things = fleet.things;
  let next = 0;
  let reading = 1_000;
  const sentSoFar = (): number => things.reduce((sum, t) => sum + t.stats.notifications, 0);
  process.on('message', (message: ToChild) => {
    if (message === 'stop') return void fleet.stop().then(() => process.disconnect());
    const { rate, seconds } = message.drive;
    const before = sentSoFar();
    const started = performance.now();
    let set = 0;
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(rate * seconds, Math.floor((elapsed * rate) / 1000));
      for (; set < due; set++) {
        const thing = things[next % things.length]!;
        // Alternate resources per round over all things; values grow so order is checkable downstream.
        if (Math.floor(next / things.length) % 2 === 0) thing.setTemperature(reading);
        else thing.setHumidity(reading);
        next++;
        if (next % (things.length * 2) === 0) reading++;
      }
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        process.send?.({ sent: sentSoFar() - before } satisfies FromChild);
      }
    }, TICK_MS);
  });
  process.send?.({ ports: things.map((t) => t.address().port) } satisfies FromChild);
}

interface Child {
  process: ChildProcess;
  ports: number[];
}

async function startChildren(): Promise<Child[]> {
  return Promise.all(
    Array.from({ length: CHILDREN }, async () => {
      const child = fork(fileURLToPath(import.meta.url), ['things', String(THINGS / CHILDREN)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const [message] = (await once(child, 'message')) as [{ ports: number[] }];
      return { process: child, ports: message.ports };
    }),
  );
}

/** Fills the store as the RD would have: one registration per thing, its links as the thing announces them. */
function registerAll(store: Store, ports: number[]): void {
  const links = [
    { href: '/sensors/temp', attrs: { rt: 'temperature', ct: '50', obs: true as const } },
    { href: '/sensors/hum', attrs: { rt: 'humidity', ct: '110', obs: true as const } },
    { href: '/actuators/led', attrs: { rt: 'light', ct: '50' } as Attrs },
  ];
  store.write(() =>
    ports.forEach((port, i) => registerInStore(store, `bench-${i}`, { host: '127.0.0.1', port }, links)),
  );
}

/** The numeric reading of a decoded value: `{temperature}` (JSON) or resolved SenML `[{v}]`. */
function readingOf(t: Telemetry): number {
  const value = t.value as { temperature?: number } | Array<{ v?: number }>;
  return Array.isArray(value) ? (value[0]?.v ?? NaN) : (value.temperature ?? NaN);
}

interface Row {
  offered: number;
  sent: number;
  delivered: number;
  emitted: number;
  outOfOrder: number;
  cpuUsPerNotification: number;
  kernelDrops: number | undefined;
}

/** Datagrams the kernel dropped for the IPv4 UDP socket on `port` (receive queue full); Linux only. */
function socketDrops(port: number): number | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${hexPort}`)) return Number(fields[fields.length - 1]);
    }
  } catch {
    // Not Linux.
  }
  return undefined;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-observer-'));
  const store = new Store({ file: path.join(dir, 'gateway.db') });
  const bus = new EventBus();
  const client = new CoapClient({ log, bind: '127.0.0.1' });
  const children = await startChildren();
  registerAll(
    store,
    children.flatMap((c) => c.ports),
  );
  // The client as the Observer sees it, counting what it delivers: separates loss on the wire from loss after it.
  let delivered = 0;
  const countingClient: ObserverDeps['client'] = {
    request: (options) => client.request(options),
    observe: (options, listener) =>
      client.observe(
        options,
        typeof listener === 'function'
          ? (reply) => {
              delivered++;
              listener(reply);
            }
          : {
              notified: (reply, observation) => {
                delivered++;
                listener.notified(reply, observation);
              },
              ended: (end, observation) => listener.ended(end, observation),
            },
      ),
  };
  const observer = new Observer({ store, bus, log, config: parseConfig({}).observer, client: countingClient });

  let emitted = 0;
  let outOfOrder = 0;
  const last = new Map<string, number>();
  bus.on('telemetry', (t) => {
    emitted++;
    const key = `${t.device}${t.path}`;
    const reading = readingOf(t);
    const previous = last.get(key);
    if (previous !== undefined && reading <= previous && reading >= 1_000) outOfOrder++;
    last.set(key, reading);
  });
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);

  const setupStarted = performance.now();
  await observer.start();
  const resources = THINGS * 2;
  while (last.size < resources) await new Promise((resolve) => setTimeout(resolve, 20));
  const setupSeconds = (performance.now() - setupStarted) / 1000;
  console.log(
    `observer: ${THINGS} things in ${CHILDREN} child processes, ${resources} observations (JSON + SenML) ` +
      `established in ${setupSeconds.toFixed(1)} s (concurrency ${parseConfig({}).observer.concurrency})`,
  );

  const clientPort = (await client.address()).port;
  const rows: Row[] = [];
  for (const rate of RATES) {
    emitted = 0;
    delivered = 0;
    outOfOrder = 0;
    const dropsBefore = socketDrops(clientPort);
    const cpuBefore = process.cpuUsage();
    const replies = children.map((c) => once(c.process, 'message') as Promise<[{ sent: number }]>);
    for (const c of children) c.process.send({ drive: { rate: rate / CHILDREN, seconds: SECONDS } } satisfies ToChild);
    const sent = (await Promise.all(replies)).reduce((sum, [m]) => sum + m.sent, 0);
    // Notifications still in flight when the drivers stopped.
    const settle = Date.now() + 2_000;
    while (emitted < sent && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 20));
    const cpu = process.cpuUsage(cpuBefore);
    const dropsAfter = socketDrops(clientPort);
    rows.push({
      offered: rate,
      sent,
      delivered,
      emitted,
      outOfOrder,
      cpuUsPerNotification: (cpu.user + cpu.system) / Math.max(1, emitted),
      kernelDrops: dropsBefore === undefined || dropsAfter === undefined ? undefined : dropsAfter - dropsBefore,
    });
  }
  clearInterval(sampler);

  const columns = [
    'offered/s',
    'things sent/s (baseline)',
    'client delivered/s',
    'emitted on bus/s',
    'emitted/sent',
    'out of order',
    'gateway CPU µs/notif.',
    'dropped by kernel (client socket)',
  ];
  const widths = columns.map((c) => c.length + 2);
  const line = (cells: string[]): void => console.log(`  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('')}`);
  line(columns);
  for (const row of rows) {
    line([
      String(row.offered),
      (row.sent / SECONDS).toFixed(0),
      (row.delivered / SECONDS).toFixed(0),
      (row.emitted / SECONDS).toFixed(0),
      (row.emitted / row.sent).toFixed(3),
      String(row.outOfOrder),
      row.cpuUsPerNotification.toFixed(0),
      row.kernelDrops === undefined ? 'n/a' : String(row.kernelDrops),
    ]);
  }
  const best = Math.max(...rows.map((r) => r.emitted / SECONDS));
  console.log(
    `  target ≥ ${TARGET_RATE}/s decoded and emitted: ${verdict(best >= TARGET_RATE)} (${best.toFixed(0)}/s)`,
  );
  console.log(
    `  target peak RSS ≤ ${TARGET_RSS_MB} MB (gateway side): ${verdict(peakRss <= TARGET_RSS_MB * 1024 * 1024)} (${mb(peakRss)})`,
  );

  await observer.stop();
  await client.close();
  await Promise.all(
    children.map(async (c) => {
      const exited = once(c.process, 'exit');
      c.process.send('stop' satisfies ToChild);
      await exited;
    }),
  );
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'things') await thingsChild(Number(process.argv[3]));
else await main();
