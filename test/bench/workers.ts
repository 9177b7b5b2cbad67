import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request as coapRequest, type IncomingMessage } from 'coap';
import { generate, parse } from 'coap-packet';
import { Executer } from '../../executer/index.js';
import { Pinger, type SweepStats } from '../../pinger/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { Fleet } from '../../src/thing/index.js';
import { storeRegistered } from '../helpers/things.js';

/**
 * Workers benchmark, loopback only:
 * - Pinger: 1,000 simulated things (in a child process, so they do not share the Pinger's event loop);
 *   sweep time beside bare pings over one dgram socket at the same concurrency, then 5 s at interval 1 s
 *   with datagrams/s.
 * - Executer: command round trip p50/p99 against one of those things, beside a bare `coap` package
 *   request() to the same thing (the baseline) and the gateway's CoapClient alone.
 */

const THINGS = 1000;
const CONCURRENCY = 64;
const ROUND_TRIPS = 2000;
const WARMUP = 200;
const log = silentLogger();

/** The child: a Fleet of things that never register (the store is filled directly), ports sent over IPC. */
async function fleetChild(): Promise<void> {
  const fleet = new Fleet({ log, count: THINGS, registration: 'none', sensorIntervalMs: 0, startConcurrency: 100 });
  await fleet.start();
  process.on('message', (message) => {
    if (message === 'stop') void fleet.stop().then(() => process.disconnect());
  });
  process.send?.({ ports: fleet.things.map((t) => t.address().port) });
}

async function startFleet(): Promise<{ ports: number[]; stop: () => Promise<void> }> {
  const child = fork(fileURLToPath(import.meta.url), ['fleet'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await once(child, 'message')) as [{ ports: number[] }];
  return {
    ports: message.ports,
    async stop() {
      const exited = once(child, 'exit');
      child.send('stop');
      await exited;
    },
  };
}

/** Pings every port once, `CONCURRENCY` outstanding. */
async function sweepWith(
  ports: number[],
  ping: (port: number) => Promise<boolean>,
): Promise<{ ms: number; answered: number }> {
  let next = 0;
  let answered = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < ports.length) if (await ping(ports[next++]!)) answered++;
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ms: performance.now() - started, answered };
}

/** The floor: an empty CON from one bare dgram socket, answered by a Reset (RFC 7252 §4.3). */
async function barePinger(): Promise<{ ping: (port: number) => Promise<boolean>; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const waiting = new Map<number, () => void>();
  socket.on('message', (msg) => {
    const packet = parse(msg);
    if (packet.reset) waiting.get(packet.messageId)?.();
  });
  let messageId = 0;
  const ping = (port: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const id = messageId++ & 0xffff;
      const timer = setTimeout(() => resolve(false), 2000);
      waiting.set(id, () => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(true);
      });
      socket.send(
        generate({ code: '0.00', confirmable: true, messageId: id, token: Buffer.alloc(0) }),
        port,
        '127.0.0.1',
      );
    });
  return { ping, close: () => socket.close() };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Contender {
  name: string;
  once: () => Promise<void>;
}

/** Round trips of each contender, interleaved so that load from elsewhere on the machine hits all alike. */
async function roundTrips(contenders: Contender[]): Promise<Array<{ name: string; p50: number; p99: number }>> {
  const times = contenders.map(() => [] as number[]);
  for (let i = 0; i < WARMUP + ROUND_TRIPS; i++) {
    for (const [k, contender] of contenders.entries()) {
      const started = performance.now();
      await contender.once();
      if (i >= WARMUP) times[k]!.push(performance.now() - started);
    }
  }
  return contenders.map(({ name }, k) => {
    const sorted = times[k]!.sort((a, b) => a - b);
    return { name, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  });
}

function bareCoapGet(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = coapRequest({ hostname: '127.0.0.1', port, pathname: '/sensors/temp' });
    req.on('response', (res: IncomingMessage) => (res.code === '2.05' ? resolve() : reject(new Error(res.code))));
    req.on('error', reject);
    req.end();
  });
}

const ms = (value: number): string => `${value.toFixed(3)} ms`.padStart(11);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-workers-'));
  const store = new Store({ file: path.join(dir, 'gateway.db') });
  const client = new CoapClient({ log, bind: '127.0.0.1' });
  const fleet = await startFleet();
  try {
    // Registered, as the RD would have them: the workers ping, observe and command registered devices only.
    store.write(() => {
      for (const port of fleet.ports) storeRegistered(store, { ep: `thing-${port}`, host: '127.0.0.1', port });
    });

    console.log(`pinger: ${THINGS} things, concurrency ${CONCURRENCY}`);
    let pings = 0;
    const counted = {
      ping: (host: string, port: number, timeoutMs: number) => {
        pings++;
        return client.ping(host, port, timeoutMs);
      },
    };
    const config = { ...parseConfig({}).pinger, intervalSeconds: 1, concurrency: CONCURRENCY };
    const pinger = new Pinger({ store, bus: new EventBus(), log, config, client: counted });
    const raw = await barePinger();
    const contenders: Array<{ name: string; sweep: () => Promise<{ ms: number; answered: number }> }> = [
      { name: 'bare pings, one dgram socket (baseline)', sweep: () => sweepWith(fleet.ports, raw.ping) },
      {
        name: 'CoapClient.ping() alone',
        sweep: () => sweepWith(fleet.ports, (port) => client.ping('127.0.0.1', port, 2000)),
      },
      {
        name: 'Pinger.sweep()',
        sweep: async () => {
          const stats = await pinger.sweep();
          return { ms: stats.durationMs, answered: stats.answered };
        },
      },
    ];
    // Interleaved, after one warm-up round each, median of three: the machine's other load hits all alike.
    const sweeps = contenders.map(() => [] as Array<{ ms: number; answered: number }>);
    for (let round = 0; round < 4; round++) {
      for (const [k, contender] of contenders.entries()) {
        const result = await contender.sweep();
        if (round > 0) sweeps[k]!.push(result);
      }
    }
    raw.close();
    const medians = sweeps.map((results) => results.sort((a, b) => a.ms - b.ms)[1]!);
    for (const [k, { name }] of contenders.entries()) {
      const { ms: took, answered } = medians[k]!;
      const ratio = k === 0 ? '' : `   ×${(took / medians[0]!.ms).toFixed(2)}`;
      console.log(`  ${name.padEnd(40)} ${ms(took)}   answered ${answered}/${THINGS}${ratio}`);
    }

    const rounds: SweepStats[] = [];
    const before = pinger.lastRound;
    pings = 0;
    const started = performance.now();
    await pinger.start();
    const watcher = setInterval(() => {
      const last = pinger.lastRound;
      if (last && last !== rounds.at(-1) && last !== before) rounds.push(last);
    }, 20);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await pinger.stop();
    clearInterval(watcher);
    const elapsedS = (performance.now() - started) / 1000;
    const roundMs = rounds.map((r) => r.durationMs).sort((a, b) => a - b);
    console.log(
      `  at interval 1 s (jitter ${config.jitter}), ${elapsedS.toFixed(1)} s: ${rounds.length} rounds, round time p50 ${roundMs.length ? percentile(roundMs, 50).toFixed(0) : '-'} ms / max ${roundMs.at(-1)?.toFixed(0) ?? '-'} ms, ` +
        `all answered: ${rounds.every((r) => r.answered === THINGS)}, ${((2 * pings) / elapsedS).toFixed(0)} datagrams/s`,
    );

    const target = fleet.ports[0]!;
    const device = store.devices.findByAddress('127.0.0.1', target)!;
    const executer = new Executer({ store, log, config: parseConfig({}).executer, client });
    await executer.start();
    console.log(`executer: GET /sensors/temp, ${ROUND_TRIPS} sequential round trips (after ${WARMUP} warm-up)`);
    const [baseline, ...rows] = await roundTrips([
      { name: 'coap package request() (baseline)', once: () => bareCoapGet(target) },
      {
        name: 'CoapClient.request()',
        once: async () => {
          await client.request({ host: '127.0.0.1', port: target, method: 'GET', path: '/sensors/temp' });
        },
      },
      {
        name: 'Executer.execute()',
        once: async () => {
          const result = await executer.execute({ device: device.id, method: 'GET', path: '/sensors/temp' });
          if (!result.ok) throw new Error(result.error.message);
        },
      },
    ]);
    await executer.stop();
    const executed = rows.at(-1)!;
    for (const row of [baseline!, ...rows]) {
      const ratio =
        row === baseline
          ? ''
          : `   ×${(row.p50 / baseline!.p50).toFixed(2)} p50, added ${(row.p50 - baseline!.p50).toFixed(3)} ms`;
      console.log(`  ${row.name.padEnd(36)} p50 ${ms(row.p50)}   p99 ${ms(row.p99)}${ratio}`);
    }
    const added = executed.p50 - baseline!.p50;
    console.log(`  target ≤ 0.5 ms added at p50: ${added <= 0.5 ? 'met' : 'NOT met'} (${added.toFixed(3)} ms)`);
  } finally {
    await client.close();
    await fleet.stop();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'fleet') await fleetChild();
else await main();
