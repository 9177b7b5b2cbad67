import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ResourceDirectory } from '../../rd/index.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { BATCH_WINDOW_MS, Store } from '../../src/store/index.js';
import { echoServerScript, serveInChild, startServerProcess, type ServerProcess, type Usage } from './echo-server.js';
import { cycle, resourceLookup } from './requests.js';
import { encodeRequest, runLoad, type LoadOptions, type LoadResult } from './load.js';

/**
 * RD benchmark: registrations, updates, endpoint and resource lookups with 10,000
 * endpoints of 5 links each, latency at the target rates, and peak RSS over 30 s of mixed load,
 * each beside the same load generator against the echo server (CoapServer with a trivial handler).
 * The RD and the echo server run in child processes; the generator has this process to itself.
 */

const ENDPOINTS = 10_000;
const LINKS =
  '</sensors/temp>;rt="temperature";if="core.s",</sensors/hum>;rt="humidity";if="core.s",' +
  '</sensors/light>;rt="light-lux";if="core.s",</act/led>;rt="light";if="core.a",</cfg>;rt="config"';
const CLOSED_LOOP = { sockets: 32, window: 8 };
const PACED = { sockets: 32, window: 16 };

const self = fileURLToPath(import.meta.url);

/** The child: the RD as the gateway composes it, over a fresh SQLite file. */
async function startRd(): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-rd-'));
  const store = new Store({ file: path.join(dir, 'rd.db'), backgroundCheckpoints: true });
  const rd = new ResourceDirectory({
    store,
    bus: new EventBus(),
    log: silentLogger(),
    config: parseConfig({}).rd,
    coap: { bind: '::', port: 0 },
    client: { request: () => Promise.reject(new Error('simple registration is not benchmarked')) },
  });
  await rd.start();
  return {
    port: rd.address().port,
    async stop() {
      await rd.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const register = (i: number): Buffer =>
  encodeRequest({
    method: 'POST',
    path: ['rd'],
    query: [`ep=node-${i}`, 'lt=90000'],
    payload: LINKS,
    contentFormat: 40,
  });
const endpointLookup = (i: number): Buffer =>
  encodeRequest({ method: 'GET', path: ['rd-lookup', 'ep'], query: [`ep=node-${i}`] });

/** A phase's load figures plus the server's CPU time per answered request, which a busy machine does not distort. */
interface Measured extends LoadResult {
  cpuUsPerRequest: number;
  /** The server's peak RSS during the phase, and its memory when the phase ended. */
  peakRss: number;
  end: Usage;
}

async function phase(
  name: string,
  server: ServerProcess,
  options: Omit<LoadOptions, 'host' | 'port'>,
): Promise<Measured> {
  const before = await server.usage();
  const load = await runLoad({ host: '127.0.0.1', port: server.port, ...options });
  const after = await server.usage();
  const cpuUsPerRequest = ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, load.answered);
  const result = { ...load, cpuUsPerRequest, peakRss: after.peakRss, end: after };
  const codes = Object.entries(result.codes)
    .map(([code, n]) => `${code}×${n}`)
    .join(' ');
  console.log(
    `  ${name.padEnd(34)} ${result.perSecond.toFixed(0).padStart(7)}/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  server CPU ${result.cpuUsPerRequest.toFixed(0)} µs/req  lost ${result.lost}  ${codes}`,
  );
  return result;
}

async function ceiling(): Promise<Record<string, Measured>> {
  console.log('echo server (ceiling: CoapServer with a handler that only answers):');
  const echo = await startServerProcess(echoServerScript);
  try {
    const registrations = await phase('echo POST (registration-shaped)', echo, {
      ...CLOSED_LOOP,
      durationMs: 3000,
      request: cycle(1000, register),
    });
    const lookups = await phase('echo GET (lookup-shaped)', echo, {
      ...CLOSED_LOOP,
      durationMs: 3000,
      request: cycle(1000, endpointLookup),
    });
    const paced = await phase('echo GET @ 10,000/s', echo, {
      ...PACED,
      durationMs: 3000,
      ratePerSecond: 10_000,
      request: cycle(1000, endpointLookup),
    });
    return { registrations, lookups, paced };
  } finally {
    await echo.stop();
  }
}

async function directory(rd: ServerProcess): Promise<Record<string, Measured>> {
  console.log(`resource directory (${ENDPOINTS} endpoints × 5 links):`);
  const locations: string[][] = [];
  const registrations = await phase('register (new endpoints)', rd, {
    ...CLOSED_LOOP,
    total: ENDPOINTS,
    request: (i) => register(i),
    onReply: (i, reply) => {
      locations[i] = reply.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
    },
  });
  const updateRequests = locations.filter(Boolean).map((segments) => encodeRequest({ method: 'POST', path: segments }));
  if (updateRequests.length < ENDPOINTS) console.log(`  (only ${updateRequests.length} registrations answered)`);
  const update = (index: number): Buffer => updateRequests[(index * 7919) % updateRequests.length]!;
  const updates = await phase('update (POST /rd/<id>)', rd, { ...CLOSED_LOOP, durationMs: 3000, request: update });
  const epLookups = await phase('endpoint lookup ep=node-N', rd, {
    ...CLOSED_LOOP,
    durationMs: 3000,
    request: cycle(ENDPOINTS, endpointLookup),
  });
  const epPaced = await phase('endpoint lookup @ 10,000/s', rd, {
    ...PACED,
    durationMs: 3000,
    ratePerSecond: 10_000,
    request: cycle(ENDPOINTS, endpointLookup),
  });
  const resLookups = await phase('resource lookup rt=/page=/if=+count', rd, {
    ...CLOSED_LOOP,
    durationMs: 3000,
    request: cycle(300, resourceLookup),
  });
  const resPaced = await phase('resource lookup @ 10,000/s', rd, {
    ...PACED,
    durationMs: 3000,
    ratePerSecond: 10_000,
    request: cycle(300, resourceLookup),
  });
  // A light load shows what answering after the commit costs: a reply waits for its batch, at most BATCH_WINDOW_MS.
  const regLight = await phase('re-register @ 1,000/s', rd, {
    ...PACED,
    durationMs: 3000,
    ratePerSecond: 1000,
    request: cycle(ENDPOINTS, register),
  });
  const regPaced = await phase('re-register @ 5,000/s', rd, {
    ...PACED,
    durationMs: 2000,
    ratePerSecond: 5000,
    request: cycle(ENDPOINTS, register),
  });
  const mixes: Array<(i: number) => Buffer> = [
    cycle(ENDPOINTS, register),
    update,
    update,
    cycle(ENDPOINTS, endpointLookup),
    cycle(ENDPOINTS, endpointLookup),
    cycle(ENDPOINTS, endpointLookup),
    cycle(300, resourceLookup),
    cycle(300, resourceLookup),
    cycle(300, resourceLookup),
    cycle(300, resourceLookup),
  ];
  const mixed = await phase('mixed 30 s (10% reg, 20% upd, 70% lookup)', rd, {
    ...CLOSED_LOOP,
    durationMs: 30_000,
    request: (i) => mixes[i % mixes.length]!(Math.floor(i / mixes.length)),
  });
  return { registrations, updates, epLookups, epPaced, resLookups, resPaced, regLight, regPaced, mixed };
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (r: LoadResult): string => `${r.perSecond.toFixed(0)}/s`;
const latency = (r: LoadResult): string => `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} ms`;
const cpu = (r: Measured | undefined): string => (r === undefined ? '' : `${r.cpuUsPerRequest.toFixed(0)} µs`);
/** What one core would serve at this CPU cost per request: the figure a busy machine does not distort. */
const perCore = (r: Measured): string => `${(1e6 / r.cpuUsPerRequest).toFixed(0)}/s`;
/** Figures count only when (almost) every request got a success reply. */
const clean = (r: LoadResult): boolean => {
  const ok = Object.entries(r.codes).reduce((n, [code, count]) => n + (code.startsWith('2.') ? count : 0), 0);
  return ok >= r.sent * 0.999;
};
/** Held the offered rate (within 5%) with p99 within 5 ms. */
const meetsPace = (r: LoadResult, offered: number): boolean => r.p99Ms <= 5 && r.perSecond >= offered * 0.95;
const verdict = (pass: boolean, r?: LoadResult): string =>
  r !== undefined && !clean(r) ? 'ERRORS' : pass ? 'PASS' : 'MISS';

/** One table row: the RD's figure, the ceiling's, server CPU per request of each, the target and the verdict. */
function row(
  label: string,
  show: (r: Measured) => string,
  rd: Measured,
  echo: Measured | undefined,
  target = '—',
  pass?: boolean,
): string[] {
  const ratio = echo === undefined || show !== rate ? '' : `${((rd.perSecond / echo.perSecond) * 100).toFixed(0)}%`;
  return [
    label,
    show(rd),
    echo === undefined ? '' : show(echo),
    ratio,
    cpu(rd),
    cpu(echo),
    show === rate ? perCore(rd) : '',
    target,
    verdict(pass ?? true, rd),
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  const echo = await ceiling();
  const rdProcess = await startServerProcess(self, ['--child']);
  let rd: Record<string, Measured>;
  try {
    rd = await directory(rdProcess);
  } finally {
    await rdProcess.stop();
  }
  const r = (key: string): Measured => rd[key]!;
  const e = (key: string): Measured => echo[key]!;
  const rows: string[][] = [
    row(
      'registrations/s',
      rate,
      r('registrations'),
      e('registrations'),
      '≥ 5000/s',
      r('registrations').perSecond >= 5000,
    ),
    row('updates/s', rate, r('updates'), e('registrations')),
    row('endpoint lookups/s', rate, r('epLookups'), e('lookups'), '≥ 10000/s', r('epLookups').perSecond >= 10_000),
    row('resource lookups/s', rate, r('resLookups'), e('lookups'), '≥ 10000/s', r('resLookups').perSecond >= 10_000),
    row('ep lookup p50/p99 @10k/s', latency, r('epPaced'), e('paced'), 'p99 ≤ 5 ms', meetsPace(r('epPaced'), 10_000)),
    row(
      'res lookup p50/p99 @10k/s',
      latency,
      r('resPaced'),
      e('paced'),
      'p99 ≤ 5 ms',
      meetsPace(r('resPaced'), 10_000),
    ),
    // Informational: what a reply waits for its commit, at most the batch window (answer after durability).
    row(
      'registration p50/p99 @1k/s',
      latency,
      r('regLight'),
      undefined,
      `waits ≤ ${BATCH_WINDOW_MS} ms for its commit`,
    ),
    row('registration p50/p99 @5k/s', latency, r('regPaced'), undefined, 'p99 ≤ 5 ms', meetsPace(r('regPaced'), 5000)),
    row('mixed 30 s: req/s', rate, r('mixed'), undefined),
    row('mixed 30 s: p50/p99', latency, r('mixed'), undefined),
    [
      'peak RSS (30 s mixed)',
      mb(r('mixed').peakRss),
      mb(Math.max(...Object.values(echo).map((m) => m.peakRss))),
      '',
      '',
      '',
      '',
      '≤ 200 MB',
      verdict(r('mixed').peakRss <= 200 * 1024 * 1024),
    ],
  ];
  const header = [
    'figure',
    'RD',
    'echo ceiling',
    'RD/ceiling',
    'RD CPU/req',
    'echo CPU/req',
    'RD 1 core',
    'target',
    '',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of rows) console.log(line(row));
  console.log(
    '\nRD 1 core = 10^6 / RD CPU per request: what the RD serves on one core of its own, whatever else the machine runs.',
  );
  const { end } = r('mixed');
  console.log(
    `RD memory after the mixed load: heap ${mb(end.heapUsed)} used of ${mb(end.heapTotal)}, external ${mb(end.external)}`,
  );
  // Latency figures mean little on a busy machine; the load average says how busy it was.
  const load = os.loadavg()[0]!.toFixed(1);
  const took = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`${os.cpus().length} CPUs, load average ${load}, node ${process.version}; bench took ${took} s`);
}

if (process.argv.includes('--child')) await serveInChild(startRd);
else await main();
