import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { LeanFleetStats } from '../../src/thing/index.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import type { ProbeReport } from './probe.js';
import { cpuSecondsOf, mb, QUICK, startShipped, type Shipped } from './shipped.js';
import { printTable, verdict } from './table.js';

/**
 * The fleet scenario. `coregate hub` and `coregate start` (defaults apart from ports, paths and the link
 * between them) each in a process of its own; 10,000 simulated devices (LeanFleet, 2,500 per process, each
 * process on a loopback address of its own) register as fast as the gateway admits them. Then a steady
 * state with the default Pinger, every device observed, every device changing its value at a fixed total
 * rate (counted at the devices), a WebSocket subscriber at the hub counting what arrives, and commands
 * through the hub's HTTP API at a fixed rate (latency from the intended send time; a failed or timed-out
 * command counts against the percentiles). Last, more devices join, for the RSS slope per device.
 */

const DEVICES = Number(process.env.BENCH_FLEET_DEVICES ?? 10_000);
const MORE = QUICK ? 10_000 : 40_000;
const PER_PROCESS = Math.min(2_500, DEVICES);
const STEADY_SECONDS = QUICK ? 15 : 60;
const VALUES_PER_SECOND = 10_000;
const COMMANDS_PER_SECOND = 200;
const COMMAND_TIMEOUT_MS = 5_000;
const ONBOARD_TIMEOUT_MS = QUICK ? 60_000 : 180_000;
const GATEWAY_ID = 'bench-gw';
const SECRET = 'coregate-dev-secret';
const API_KEY = 'coregate-dev-key';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface DeviceProcess {
  child: ChildProcess;
  stats(): Promise<LeanFleetStats>;
  send(message: unknown): void;
  stop(): Promise<void>;
}

async function startDevices(count: number, first: number, host: string, rdPort: number): Promise<DeviceProcess> {
  const child = fork(path.join(here, 'fleet-devices.js'), [String(count), String(first), host, String(rdPort)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`device process exited (${code})`)));
  });
  return {
    child,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (message: { stats: LeanFleetStats }) => resolve(message.stats));
        child.send('stats');
      }),
    send: (message) => child.send(message as string),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

/** Every device process's stats, summed. */
async function fleetStats(processes: DeviceProcess[]): Promise<LeanFleetStats> {
  const all = await Promise.all(processes.map((p) => p.stats()));
  return all.reduce((sum, s) => ({
    registered: sum.registered + s.registered,
    observed: sum.observed + s.observed,
    produced: sum.produced + s.produced,
    pings: sum.pings + s.pings,
    requests: sum.requests + s.requests,
  }));
}

class Subscriber {
  delivered = 0;
  outOfOrder = 0;
  private readonly last = new Map<string, number>();
  private constructor(readonly ws: WebSocket) {}

  static async open(hubPort: number): Promise<Subscriber> {
    const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/subscribe?clientName=bench&apiKey=${API_KEY}`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const sub = new Subscriber(ws);
    ws.on('message', (data: Buffer) => sub.receive(data));
    ws.send(JSON.stringify({ action: 'subscribe', event: 'telemetry' }));
    return sub;
  }

  private receive(data: Buffer): void {
    const message = JSON.parse(data.toString()) as { data?: { device: string; value?: { temperature?: number } } };
    const value = message.data?.value?.temperature;
    // 0 is the value every device answers its observation with: not one the bench produced.
    if (typeof value !== 'number' || value < 1) return;
    this.delivered++;
    const device = message.data!.device;
    if ((this.last.get(device) ?? 0) >= value) this.outOfOrder++;
    this.last.set(device, value);
  }
}

/** Upstream frames the hub has taken from the gateway so far (its own count, on /socket/info). */
function hubReceived(hubPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/socket/info?apiKey=${API_KEY}`);
    ws.once('message', (data: Buffer) => {
      const info = JSON.parse(data.toString()) as { gateways: { id: string; received: number }[] };
      resolve(info.gateways.find((g) => g.id === GATEWAY_ID)?.received ?? 0);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** Datagrams the kernel dropped for a full receive queue, machine-wide (/proc/net/snmp Udp RcvbufErrors). */
function udpReceiveDrops(): number {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

async function hubDevices(hubPort: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${hubPort}/v1/devices?gateway=${GATEWAY_ID}`, {
    headers: { 'x-api-key': API_KEY },
  });
  const { devices } = (await res.json()) as { devices: { id: string }[] };
  return devices.map((d) => d.id);
}

interface Onboarding {
  registeredS?: number;
  observedS?: number;
  visibleS?: number;
  counts: { registered: number; observed: number; visible: number };
  gateway: ProbeReport;
  hub: ProbeReport;
}

/** Starts `count` more devices and times them until registered, observed and listed by the hub. */
async function onboard(
  processes: DeviceProcess[],
  count: number,
  total: number,
  rdPort: number,
  hubPort: number,
  gateway: Shipped,
  hub: Shipped,
): Promise<Onboarding> {
  const added = await Promise.all(
    Array.from({ length: Math.ceil(count / PER_PROCESS) }, (_, i) => {
      const index = processes.length + i;
      const n = Math.min(PER_PROCESS, count - i * PER_PROCESS);
      return startDevices(n, total - count + i * PER_PROCESS + 1, `127.0.${index + 1}.1`, rdPort);
    }),
  );
  processes.push(...added);
  await Promise.all([gateway.probe(), hub.probe()]);
  const started = performance.now();
  for (const p of added) p.send('register');
  const result: Onboarding = { counts: { registered: 0, observed: 0, visible: 0 } } as Onboarding;
  const at = (): number => (performance.now() - started) / 1000;
  let lastVisibleCheck = 0;
  while (performance.now() - started < ONBOARD_TIMEOUT_MS) {
    const stats = await fleetStats(processes);
    result.counts.registered = stats.registered;
    result.counts.observed = stats.observed;
    if (stats.registered >= total) result.registeredS ??= at();
    if (stats.observed >= total) result.observedS ??= at();
    // The hub lists every device in one reply: asked only once the devices say they are registered.
    if (result.visibleS === undefined && stats.registered >= total && performance.now() - lastVisibleCheck > 250) {
      lastVisibleCheck = performance.now();
      result.counts.visible = (await hubDevices(hubPort)).length;
      if (result.counts.visible >= total) result.visibleS = at();
    }
    if (result.registeredS && result.observedS && result.visibleS) break;
    await sleep(100);
  }
  [result.gateway, result.hub] = await Promise.all([gateway.probe(), hub.probe()]);
  const show = (s: number | undefined, n: number): string =>
    s === undefined ? `not reached (${n})` : `${s.toFixed(1)} s`;
  console.log(
    `  ${total} devices: registered ${show(result.registeredS, result.counts.registered)}, observed ${show(result.observedS, result.counts.observed)}, at the hub ${show(result.visibleS, result.counts.visible)}`,
  );
  return result;
}

interface Steady {
  produced: number;
  delivered: number;
  outOfOrder: number;
  seconds: number;
  commands: { sent: number; ok: number; failed: number; p50: number; p99: number };
  /** Telemetry and events the hub took from the gateway during the phase, and datagrams the kernel dropped. */
  hubReceived: number;
  udpDrops: number;
  gatewayCpu: number;
  hubCpu: number;
  gateway: ProbeReport;
  hub: ProbeReport;
  rssStart: { gateway: number; hub: number };
  /** Share of the phase the process's main thread spent runnable but waiting for a CPU (other processes had it). */
  waited: { gateway: number; hub: number };
}

async function steady(
  processes: DeviceProcess[],
  sub: Subscriber,
  hubPort: number,
  ids: string[],
  gateway: Shipped,
  hub: Shipped,
): Promise<Steady> {
  const [g0, h0] = await Promise.all([gateway.probe(), hub.probe()]);
  const probedAt = performance.now();
  const cpu0 = [cpuSecondsOf(gateway.pid), cpuSecondsOf(hub.pid)];
  const before = await fleetStats(processes);
  const delivered0 = sub.delivered;
  const hubReceived0 = await hubReceived(hubPort);
  const udpDrops0 = udpReceiveDrops();
  const outOfOrder0 = sub.outOfOrder;
  for (const p of processes) p.send({ rate: VALUES_PER_SECOND / processes.length });
  const started = performance.now();
  const latencies: number[] = [];
  let sent = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  // Open loop: command n is due at started + n / rate whatever the earlier ones are doing.
  const command = async (dueAt: number, id: string): Promise<void> => {
    try {
      const res = await fetch(`http://127.0.0.1:${hubPort}/v1/devices/${id}/send`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: '{"method":"GET","path":"/sensors/temp"}',
        signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
      });
      const body = (await res.json()) as { code?: string };
      if (res.status === 200 && body.code === '2.05') latencies.push(performance.now() - dueAt);
      else if (failed++ === 0) console.log(`  first failed command: ${res.status} ${JSON.stringify(body)}`);
    } catch (err) {
      if (failed++ === 0) console.log(`  first failed command: ${String(err)}`);
    }
  };
  while (performance.now() - started < STEADY_SECONDS * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * COMMANDS_PER_SECOND);
    for (; sent < due; sent++)
      pending.push(command(started + (sent * 1000) / COMMANDS_PER_SECOND, ids[(sent * 7919) % ids.length]!));
    await sleep(2);
  }
  for (const p of processes) p.send({ rate: 0 });
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  const cpu = [cpuSecondsOf(gateway.pid) - cpu0[0]!, cpuSecondsOf(hub.pid) - cpu0[1]!];
  // Drained when nothing more arrives for 2 s.
  for (let last = -1; last !== sub.delivered;) {
    last = sub.delivered;
    await sleep(2000);
  }
  const after = await fleetStats(processes);
  const udpDrops = udpReceiveDrops() - udpDrops0;
  const received = (await hubReceived(hubPort)) - hubReceived0;
  const [g1, h1] = await Promise.all([gateway.probe(), hub.probe()]);
  const probedMs = performance.now() - probedAt;
  latencies.sort((a, b) => a - b);
  // A failed command is slower than any that succeeded: it takes the top ranks.
  const percentile = (p: number): number => {
    const rank = Math.ceil(sent * p) - 1;
    return rank < latencies.length ? latencies[rank]! : Number.POSITIVE_INFINITY;
  };
  return {
    produced: after.produced - before.produced,
    delivered: sub.delivered - delivered0,
    outOfOrder: sub.outOfOrder - outOfOrder0,
    seconds,
    commands: { sent, ok: latencies.length, failed, p50: percentile(0.5), p99: percentile(0.99) },
    hubReceived: received,
    udpDrops,
    gatewayCpu: cpu[0]!,
    hubCpu: cpu[1]!,
    gateway: g1,
    hub: h1,
    rssStart: { gateway: g0.rss, hub: h0.rss },
    waited: {
      gateway: (g1.runQueueMs - g0.runQueueMs) / probedMs,
      hub: (h1.runQueueMs - h0.runQueueMs) / probedMs,
    },
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-fleet-'));
  const hubPort = await freeTcpPort();
  const coapPort = await freeUdpPort();
  const hub = startShipped(
    'hub',
    ['hub'],
    { hub: { port: hubPort, db: path.join(dir, 'hub.db'), gateways: { [GATEWAY_ID]: SECRET } } },
    dir,
  );
  const gateway = startShipped(
    'gateway',
    ['start'],
    {
      db: path.join(dir, 'coregate.db'),
      coap: { port: coapPort },
      platform: { url: `ws://127.0.0.1:${hubPort}/v1/gateway`, gatewayId: GATEWAY_ID },
    },
    dir,
  );
  const processes: DeviceProcess[] = [];
  try {
    for (let i = 0; ; i++) {
      if (
        await hubDevices(hubPort).then(
          () => true,
          () => false,
        )
      )
        break;
      if (i > 100) throw new Error('the hub did not come up');
      await sleep(100);
    }
    const sub = await Subscriber.open(hubPort);
    const [gateway0, hub0] = await Promise.all([gateway.gc(), hub.gc()]);
    console.log(`fleet: ${DEVICES} devices in ${DEVICES / PER_PROCESS} processes, gateway and hub in their own`);
    const first = await onboard(processes, DEVICES, DEVICES, coapPort, hubPort, gateway, hub);
    const ids = await hubDevices(hubPort);
    // BENCH_HEAP_SNAPSHOT=1: where each byte per device goes (open the files in Chrome's DevTools, Memory tab).
    if (process.env.BENCH_HEAP_SNAPSHOT === '1')
      console.log(`  heap snapshots at ${DEVICES} devices: ${await gateway.snapshot()} ${await hub.snapshot()}`);
    console.log(`  steady state ${STEADY_SECONDS} s: ${VALUES_PER_SECOND} values/s, ${COMMANDS_PER_SECOND} commands/s`);
    const state = await steady(processes, sub, hubPort, ids, gateway, hub);
    const [gateway10k, hub10k] = await Promise.all([gateway.gc(), hub.gc()]);
    const total = DEVICES + MORE;
    console.log(`  ${MORE} more devices, for the memory slope`);
    const second = await onboard(processes, MORE, total, coapPort, hubPort, gateway, hub);
    await sleep(5000);
    const [gatewayMore, hubMore] = await Promise.all([gateway.gc(), hub.gc()]);

    const lost = state.produced - state.delivered;
    const perDevice = (a: ProbeReport, b: ProbeReport, key: 'rss' | 'heapUsed' | 'heapTotal' | 'external'): number =>
      (b[key] - a[key]) / MORE;
    /** Where the RSS slope goes: V8 heap in use, heap reserved but free, Buffers outside the heap, the rest native. */
    const split = (a: ProbeReport, b: ProbeReport): string => {
      const [rss, used, total, external] = (['rss', 'heapUsed', 'heapTotal', 'external'] as const).map((key) =>
        perDevice(a, b, key),
      );
      return `heap used ${kb(used!)}, heap reserved ${kb(total! - used!)}, external ${kb(external!)}, other ${kb(rss! - total! - external!)}`;
    };
    const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
    const secs = (s: number | undefined, n: number): string =>
      s === undefined ? `not reached (${n})` : `${s.toFixed(1)} s`;
    const within10 = (o: Onboarding): boolean =>
      o.registeredS !== undefined &&
      o.observedS !== undefined &&
      o.visibleS !== undefined &&
      o.visibleS <= 10 &&
      o.observedS <= 10;
    const flat = (a: number, b: number): boolean => Math.abs(b / a - 1) <= 0.1;
    const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'lost');
    console.log();
    printTable(
      ['figure', 'result', 'target', ''],
      [
        [
          `${DEVICES} registered / observed / at the hub`,
          `${secs(first.registeredS, first.counts.registered)} / ${secs(first.observedS, first.counts.observed)} / ${secs(first.visibleS, first.counts.visible)}`,
          '≤ 10 s',
          verdict(within10(first)),
        ],
        [
          'event-loop delay p99 / max while onboarding (gateway; hub)',
          `${first.gateway.loopP99Ms.toFixed(1)} / ${first.gateway.loopMaxMs.toFixed(1)} ms; ${first.hub.loopP99Ms.toFixed(1)} / ${first.hub.loopMaxMs.toFixed(1)} ms`,
          '≤ 10 ms',
          verdict(first.gateway.loopMaxMs <= 10 && first.hub.loopMaxMs <= 10),
        ],
        [
          'telemetry produced at the devices',
          `${state.produced} (${(state.produced / state.seconds).toFixed(0)}/s)`,
          '',
          '',
        ],
        [
          'telemetry delivered to the subscriber',
          `${state.delivered} (${(state.delivered / state.seconds).toFixed(0)}/s), lost ${lost}, out of order ${state.outOfOrder}`,
          '≥ 10,000/s, zero loss',
          verdict(lost === 0 && state.delivered / state.seconds >= 10_000 * 0.98),
        ],
        [
          'where the values went missing',
          `hub took ${state.hubReceived} frames from the gateway (values and events); the kernel dropped ${state.udpDrops} datagrams for full receive queues (whole machine)`,
          '',
          '',
        ],
        [
          `commands @ ${COMMANDS_PER_SECOND}/s p50 / p99`,
          `${ms(state.commands.p50)} / ${ms(state.commands.p99)} (${state.commands.sent} sent, ${state.commands.failed} failed)`,
          'p99 ≤ 20 ms',
          verdict(state.commands.p99 <= 20),
        ],
        [
          'gateway CPU (steady state)',
          `${((state.gatewayCpu / state.seconds) * 100).toFixed(0)}% of a core, ${((state.gatewayCpu * 1e6) / Math.max(1, state.produced)).toFixed(0)} µs per value`,
          '',
          '',
        ],
        [
          'share of the steady state spent waiting for a CPU (gateway; hub)',
          `${(state.waited.gateway * 100).toFixed(0)}%; ${(state.waited.hub * 100).toFixed(0)}% (run queue, /proc/PID/schedstat)`,
        ],
        [
          'hub CPU (steady state)',
          `${((state.hubCpu / state.seconds) * 100).toFixed(0)}% of a core, ${((state.hubCpu * 1e6) / Math.max(1, state.delivered)).toFixed(0)} µs per value`,
          '',
          '',
        ],
        [
          'event-loop delay p99 / max in steady state (gateway; hub)',
          `${state.gateway.loopP99Ms.toFixed(1)} / ${state.gateway.loopMaxMs.toFixed(1)} ms; ${state.hub.loopP99Ms.toFixed(1)} / ${state.hub.loopMaxMs.toFixed(1)} ms`,
          'no stall > 10 ms',
          verdict(state.gateway.loopMaxMs <= 10 && state.hub.loopMaxMs <= 10),
        ],
        [
          'gateway RSS start / end of steady state',
          `${mb(state.rssStart.gateway)} / ${mb(state.gateway.rss)}`,
          'flat ±10%',
          verdict(flat(state.rssStart.gateway, state.gateway.rss)),
        ],
        [
          'hub RSS start / end of steady state',
          `${mb(state.rssStart.hub)} / ${mb(state.hub.rss)}`,
          'flat ±10%',
          verdict(flat(state.rssStart.hub, state.hub.rss)),
        ],
        [
          `${total} registered / observed / at the hub (${MORE} joining)`,
          `${secs(second.registeredS, second.counts.registered)} / ${secs(second.observedS, second.counts.observed)} / ${secs(second.visibleS, second.counts.visible)}`,
          '',
          '',
        ],
        [
          'gateway RSS at 0 / 10k / ' + `${total / 1000}k devices (after a full GC)`,
          `${mb(gateway0.rss)} / ${mb(gateway10k.rss)} / ${mb(gatewayMore.rss)}`,
          '',
          '',
        ],
        [
          'hub RSS at 0 / 10k / ' + `${total / 1000}k devices (after a full GC)`,
          `${mb(hub0.rss)} / ${mb(hub10k.rss)} / ${mb(hubMore.rss)}`,
          '',
          '',
        ],
        [
          `gateway bytes per device, RSS slope 10k → ${total / 1000}k (heap slope)`,
          `${kb(perDevice(gateway10k, gatewayMore, 'rss'))} (${kb(perDevice(gateway10k, gatewayMore, 'heapUsed'))})`,
          '≤ 5 KB',
          verdict(perDevice(gateway10k, gatewayMore, 'rss') <= 5120),
        ],
        [
          `hub bytes per device, RSS slope 10k → ${total / 1000}k (heap slope)`,
          `${kb(perDevice(hub10k, hubMore, 'rss'))} (${kb(perDevice(hub10k, hubMore, 'heapUsed'))})`,
          '≤ 2 KB',
          verdict(perDevice(hub10k, hubMore, 'rss') <= 2048),
        ],
        ['gateway RSS slope by kind, per device', split(gateway10k, gatewayMore)],
        ['hub RSS slope by kind, per device', split(hub10k, hubMore)],
      ],
    );
    const load = os.loadavg()[0]!.toFixed(1);
    console.log(
      `${os.cpus().length} CPUs (shared), load average ${load}, node ${process.version}; bench took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    sub.ws.terminate();
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await Promise.all([gateway.stop(), hub.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
