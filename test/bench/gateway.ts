import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { stopProcess } from '../helpers/cli.js';
import { cycle, resourceLookup } from './requests.js';
import { encodeRequest, runLoad, SourcePorts, type LoadOptions, type LoadResult } from './load.js';
import type { ProbeReport } from './probe.js';
import { cpuSecondsOf, mb, QUICK, rssOf, startShipped, type Shipped } from './shipped.js';
import { printTable, verdict } from './table.js';

/**
 * The gateway as shipped: `coregate start` with its default configuration apart from ports and paths
 * (workers on, embedded hub, discovery on, log level info), driven from this process by the raw-UDP
 * generator of load.ts (16 source ports, 64 requests outstanding, new endpoint names, 5 links each, one
 * marked `obs`, lt=3600). The ceiling is the same generator against libcoap's `coap-server-notls`
 * answering a GET, in the same run; a second gateway with the Pinger and Observer off gives the
 * workers' share. The gateway's CPU per request comes from /proc, its event-loop delay from the probe.
 */

const ENDPOINTS = QUICK ? 10_000 : 30_000;
const PHASE_MS = QUICK ? 3_000 : 10_000;
const CLOSED_LOOP = { sockets: 16, window: 4 };
const PACED = { sockets: 16, window: 16 };
const LINKS =
  '</sensors/temp>;rt="temperature";if="core.s";obs,</sensors/hum>;rt="humidity";if="core.s",' +
  '</sensors/light>;rt="light-lux";if="core.s",</act/led>;rt="light";if="core.a",</cfg>;rt="config"';
const HOST = '127.0.0.1';
const here = path.dirname(fileURLToPath(import.meta.url));

const run = Date.now().toString(36);
const register = (i: number): Buffer =>
  encodeRequest({
    method: 'POST',
    path: ['rd'],
    query: [`ep=${run}-${i}`, 'lt=3600'],
    payload: LINKS,
    contentFormat: 40,
  });
const endpointLookup = (i: number): Buffer =>
  encodeRequest({ method: 'GET', path: ['rd-lookup', 'ep'], query: [`ep=${run}-${i}`] });
const echoGet = encodeRequest({ method: 'GET', path: [] });

interface Measured extends LoadResult {
  cpuUsPerRequest: number;
  loop?: ProbeReport;
  rssEnd: number;
  rssStart?: number;
  /** Share of the phase the gateway's main thread was runnable but had no CPU (the machine is shared). */
  waited?: number;
}

/** A server measured from outside: its pid for /proc, and its probe when it is ours. */
interface Target {
  port: number;
  pid: number;
  probe?: () => Promise<ProbeReport>;
}

async function phase(name: string, target: Target, options: Omit<LoadOptions, 'host' | 'port'>): Promise<Measured> {
  const before = await target.probe?.();
  const cpuBefore = cpuSecondsOf(target.pid);
  const load = await runLoad({ host: HOST, port: target.port, timeoutMs: 2000, ...options });
  const cpuUsPerRequest = ((cpuSecondsOf(target.pid) - cpuBefore) * 1e6) / Math.max(1, load.answered);
  const loop = await target.probe?.();
  const waited = before && loop ? (loop.runQueueMs - before.runQueueMs) / (load.seconds * 1000) : undefined;
  const result: Measured = { ...load, cpuUsPerRequest, loop, waited, rssEnd: rssOf(target.pid).rss };
  const codes = Object.entries(load.codes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  console.log(
    `  ${name.padEnd(30)} ${load.perSecond.toFixed(0).padStart(6)}/s p50 ${load.p50Ms.toFixed(2)} p99 ${load.p99Ms.toFixed(2)} ms lost ${load.lost} CPU ${cpuUsPerRequest.toFixed(0)} µs/req` +
      `${loop ? ` loop p99 ${loop.loopP99Ms.toFixed(1)} max ${loop.loopMaxMs.toFixed(1)} ms` : ''}` +
      `${waited === undefined ? '' : ` waited for a CPU ${(waited * 100).toFixed(0)}%`} RSS ${mb(result.rssEnd)} ${codes}`,
  );
  return result;
}

async function untilAnswers(port: number, request: Buffer): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const probe = await runLoad({
      host: HOST,
      port,
      sockets: 1,
      window: 1,
      total: 1,
      timeoutMs: 300,
      request: () => request,
    });
    if (probe.answered === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`nothing answers on port ${port}`);
}

async function ceiling(): Promise<Record<string, Measured>> {
  console.log('libcoap coap-server-notls (ceiling: answers GET / with its banner):');
  const port = await freeUdpPort();
  const child = spawn('coap-server-notls', ['-A', HOST, '-p', String(port)], { stdio: 'ignore' });
  try {
    await untilAnswers(port, echoGet);
    const target = { port, pid: child.pid! };
    const get = await phase('GET /', target, { ...CLOSED_LOOP, durationMs: PHASE_MS, request: () => echoGet });
    const post = await phase('POST /rd (registration-shaped, 4.04)', target, {
      ...CLOSED_LOOP,
      durationMs: PHASE_MS,
      request: cycle(1000, register),
    });
    const paced = await phase('GET / @ 10,000/s', target, {
      ...PACED,
      durationMs: PHASE_MS,
      ratePerSecond: 10_000,
      request: () => echoGet,
    });
    const rss = rssOf(child.pid!).peak;
    return { get, post, paced: { ...paced, rssEnd: rss }, nodeGet: await nodeFloor() };
  } finally {
    await stopProcess(child);
  }
}

/** The same GET load against node-echo.ts: what any server on Node's dgram could answer, parsing nothing. */
async function nodeFloor(): Promise<Measured> {
  console.log('a bare Node.js dgram socket (floor under any Node.js server: answers each GET with an empty 2.05 ACK):');
  const port = await freeUdpPort();
  const child = fork(path.join(here, 'node-echo.js'), [HOST, String(port)], { stdio: 'ignore' });
  try {
    await untilAnswers(port, echoGet);
    return await phase(
      'GET /',
      { port, pid: child.pid! },
      { ...CLOSED_LOOP, durationMs: PHASE_MS, request: () => echoGet },
    );
  } finally {
    await stopProcess(child);
  }
}

async function gateway(label: string, workers: boolean, full: boolean): Promise<Record<string, Measured>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-gateway-'));
  const coapPort = await freeUdpPort();
  const config = {
    db: path.join(dir, 'coregate.db'),
    coap: { port: coapPort },
    hub: { port: await freeTcpPort(), db: path.join(dir, 'hub.db') },
    ...(workers ? {} : { pinger: { enabled: false }, observer: { enabled: false } }),
  };
  console.log(`${label}:`);
  const shipped: Shipped = startShipped(workers ? 'gateway' : 'gateway-no-workers', ['start'], config, dir);
  try {
    await untilAnswers(coapPort, encodeRequest({ method: 'GET', path: ['.well-known', 'core'] }));
    const target: Target = { port: coapPort, pid: shipped.pid, probe: () => shipped.probe() };
    const locations: Buffer[] = [];
    // Endpoint i registers from source port i % 16 and later refreshes from the same port, as a device does.
    const sources = await SourcePorts.open(HOST, CLOSED_LOOP.sockets);
    const registrations = await phase(`register ${ENDPOINTS} new endpoints`, target, {
      ...CLOSED_LOOP,
      sources,
      pinned: true,
      total: ENDPOINTS,
      durationMs: 120_000,
      request: register,
      onReply: (i, reply) => {
        const segments = reply.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
        if (segments.length > 0) locations[i] = encodeRequest({ method: 'POST', path: segments });
      },
    });
    // RFC 9176 §5.3.1: an update without parameters from where the endpoint registered only refreshes its lifetime.
    const updates = await phase('update POST /rd/<id> (refresh)', target, {
      ...CLOSED_LOOP,
      sources,
      pinned: true,
      durationMs: PHASE_MS,
      request: (index) => locations[index % ENDPOINTS] ?? echoGet,
    });
    await sources.close();
    // The same update from new source ports: the endpoint moves there (RFC 9176 §5.3.1, no explicit base).
    const updateRequests = locations.filter(Boolean);
    const moves = await phase('update POST /rd/<id> (moved)', target, {
      ...CLOSED_LOOP,
      durationMs: PHASE_MS,
      request: (index) => updateRequests[(index * 7919) % updateRequests.length]!,
    });
    const results: Record<string, Measured> = { registrations, updates, moves };
    results.updates!.rssStart = registrations.rssEnd;
    if (full) {
      results.epLookups = await phase('endpoint lookup ep=…', target, {
        ...CLOSED_LOOP,
        durationMs: PHASE_MS,
        request: cycle(ENDPOINTS, endpointLookup),
      });
      results.resLookups = await phase('resource lookup rt=/page=/if=', target, {
        ...CLOSED_LOOP,
        durationMs: PHASE_MS,
        request: cycle(300, resourceLookup),
      });
      results.epPaced = await phase('endpoint lookup @ 10,000/s', target, {
        ...PACED,
        durationMs: PHASE_MS,
        ratePerSecond: 10_000,
        request: cycle(ENDPOINTS, endpointLookup),
      });
      results.resPaced = await phase('resource lookup @ 10,000/s', target, {
        ...PACED,
        durationMs: PHASE_MS,
        ratePerSecond: 10_000,
        request: cycle(300, resourceLookup),
      });
    }
    const heap = await shipped.gc();
    console.log(
      `  after the load: RSS ${mb(heap.rss)} (peak ${mb(heap.peakRss)}), heap ${mb(heap.heapUsed)} used of ${mb(heap.heapTotal)} after a full GC, external ${mb(heap.external)}`,
    );
    results.registrations!.rssEnd = heap.peakRss;
    return results;
  } finally {
    await shipped.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (share: number): string => `${(share * 100).toFixed(0)}%`;
const blank = (n: number): string[] => Array.from({ length: n }, () => '');
const rate = (r: LoadResult): string => `${r.perSecond.toFixed(0)}/s`;
const latency = (r: LoadResult): string => `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} ms (lost ${r.lost})`;
const loop = (r: Measured): string =>
  r.loop ? `${r.loop.loopP99Ms.toFixed(1)} / ${r.loop.loopMaxMs.toFixed(1)} ms` : '';
const share = (r: LoadResult, of: LoadResult): string => `${((r.perSecond / of.perSecond) * 100).toFixed(0)}%`;
/** A figure counts only when (almost) every request got a success reply. */
const clean = (r: LoadResult): boolean =>
  Object.entries(r.codes).reduce((n, [code, count]) => n + (code.startsWith('2.') ? count : 0), 0) >= r.sent * 0.999;
/** Held the offered rate with p99 within 5 ms and nothing lost (a lost request would hide beyond the p99). */
const paceMet = (r: LoadResult, offered: number): boolean =>
  r.lost === 0 && r.p99Ms <= 5 && r.perSecond >= offered * 0.95;

async function main(): Promise<void> {
  const started = Date.now();
  const echo = await ceiling();
  const gw = await gateway('coregate start as shipped (workers on, embedded hub)', true, true);
  const bare = await gateway('coregate start, Pinger and Observer off', false, false);
  const e = (key: string): Measured => echo[key]!;
  const g = (key: string): Measured => gw[key]!;
  const noStall = (r: Measured): boolean => (r.loop?.loopMaxMs ?? 0) <= 10;
  /** A throughput row: the gateway's rate beside the ceiling's, its CPU per request and loop delay, the verdict. */
  const throughput = (label: string, r: Measured, of: 'post' | 'get', target = '', atLeast?: number): string[] => [
    label,
    rate(r),
    `${rate(e(of))} (${of.toUpperCase()})`,
    share(r, e(of)),
    `${r.cpuUsPerRequest.toFixed(0)} µs`,
    `${(1e6 / r.cpuUsPerRequest).toFixed(0)}/s`,
    loop(r),
    target,
    !clean(r) ? 'ERRORS' : atLeast === undefined ? '' : verdict(r.perSecond >= atLeast),
  ];
  const rows: string[][] = [
    throughput('registrations/s (workers on)', g('registrations'), 'post', '≥ 5,000/s', 5000),
    throughput('registrations/s (workers off)', bare.registrations!, 'post', '≥ 10,000/s', 10_000),
    throughput('updates/s, lifetime refresh (workers on)', g('updates'), 'post', '≥ 10,000/s', 10_000),
    throughput('updates/s, lifetime refresh (workers off)', bare.updates!, 'post'),
    throughput('updates/s, device moved to a new port (workers on)', g('moves'), 'post'),
    throughput('updates/s, device moved to a new port (workers off)', bare.moves!, 'post'),
    throughput('endpoint lookups/s', g('epLookups'), 'get', '≥ 50% of ceiling', e('get').perSecond * 0.5),
    throughput('resource lookups/s', g('resLookups'), 'get', '≥ 50% of ceiling', e('get').perSecond * 0.5),
    ...(['epPaced', 'resPaced'] as const).map((key) => [
      `${key === 'epPaced' ? 'endpoint' : 'resource'} lookup p50 / p99 @ 10,000/s`,
      latency(g(key)),
      latency(e('paced')),
      '',
      `${g(key).cpuUsPerRequest.toFixed(0)} µs`,
      '',
      loop(g(key)),
      'p99 ≤ 5 ms, no loss',
      clean(g(key)) ? verdict(paceMet(g(key), 10_000)) : 'ERRORS',
    ]),
    ['registration p50 / p99 (closed loop, 64 outstanding)', latency(g('registrations')), latency(e('post'))],
    [
      'event-loop delay max over every phase',
      `${Math.max(...Object.values(gw).map((r) => r.loop?.loopMaxMs ?? 0)).toFixed(1)} ms`,
      ...blank(5),
      'no stall > 10 ms',
      verdict(Object.values(gw).every(noStall)),
    ],
    [
      'time the gateway waited for a CPU (share of each phase, min – max)',
      `${pct(Math.min(...Object.values(gw).map((r) => r.waited ?? 0)))} – ${pct(Math.max(...Object.values(gw).map((r) => r.waited ?? 0)))}`,
    ],
    [
      `peak RSS (${ENDPOINTS} endpoints, workers on / off)`,
      `${mb(g('registrations').rssEnd)} / ${mb(bare.registrations!.rssEnd)}`,
      mb(e('paced').rssEnd),
    ],
    [
      'RSS before / after the refresh phase',
      `${mb(g('updates').rssStart ?? 0)} / ${mb(g('updates').rssEnd)}`,
      ...blank(5),
      'flat ±10%',
      verdict(Math.abs(g('updates').rssEnd / (g('updates').rssStart ?? 1) - 1) <= 0.1),
    ],
  ];
  console.log();
  printTable(
    [
      'figure',
      'gateway',
      'libcoap ceiling',
      'of ceiling',
      'gateway CPU/req',
      '1 core',
      'loop delay p99 / max',
      'target',
      '',
    ],
    rows,
  );
  console.log(
    `1 core = 10^6 / gateway CPU per request: what the gateway would answer on a core of its own, whatever else the machine runs. libcoap used ${e('get').cpuUsPerRequest.toFixed(1)} µs per GET.`,
  );
  console.log(
    `A bare Node.js dgram socket answering the same GETs with an empty ACK: ${rate(e('nodeGet'))} (${share(e('nodeGet'), e('get'))} of libcoap), ${e('nodeGet').cpuUsPerRequest.toFixed(1)} µs per GET: the floor under any Node.js server here.`,
  );
  const load = os.loadavg()[0]!.toFixed(1);
  console.log(
    `${os.cpus().length} CPUs (shared), load average ${load}, node ${process.version}; bench took ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
}

await main();
