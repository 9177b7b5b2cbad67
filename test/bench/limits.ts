import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parse } from 'coap-packet';
import { Connector } from '../../connector/index.js';
import { Hub } from '../../connector/hub/index.js';
import { ResourceDirectory } from '../../rd/index.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { encodeRequest, type RequestSpec } from './load.js';
import { printTable } from './table.js';

/**
 * The hostile-input reproductions at full size (the test suite runs them small): a 60 KB lookup of 15,000
 * filters over 10,000 registrations, a flood of registrations carrying 60 one-kilobyte attributes, the directory
 * filled to its byte budget with the largest registrations the limits allow, and a 100,000-device snapshot.
 * Everything runs in this process, over real UDP, WebSocket and SQLite files.
 */

const quick = process.env.BENCH_QUICK === '1';
const REGISTRATIONS = 10_000;
const FLOOD = quick ? 1_000 : 10_000;
const SNAPSHOT_DEVICES = quick ? 20_000 : 100_000;

const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `coregate-bench-${name}-`));
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const filesBytes = (dir: string): number =>
  fs.readdirSync(dir).reduce((sum, file) => sum + fs.statSync(path.join(dir, file)).size, 0);

async function startRd(dir: string): Promise<{ rd: ResourceDirectory; store: Store; stop: () => Promise<void> }> {
  const store = new Store({ file: path.join(dir, 'rd.db') });
  const rd = new ResourceDirectory({
    store,
    bus: new EventBus(),
    log: silentLogger(),
    config: parseConfig({}).rd,
    coap: { bind: '127.0.0.1', port: 0 },
    client: { request: () => Promise.reject(new Error('no simple registration here')) },
  });
  await rd.start();
  return {
    rd,
    store,
    stop: async () => {
      await rd.stop();
      store.close();
    },
  };
}

/** One CON request at a time from one socket: the reply's code. */
class Client {
  private readonly socket = dgram.createSocket('udp4');
  private id = 1;
  constructor(private readonly port: number) {}
  async bind(): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this;
  }
  request(spec: RequestSpec): Promise<string> {
    const datagram = encodeRequest(spec);
    const id = this.id++ & 0xffff;
    datagram.writeUInt16BE(id, 2);
    return new Promise((resolve) => {
      const onMessage = (reply: Buffer): void => {
        if (reply.readUInt16BE(2) !== id) return;
        this.socket.off('message', onMessage);
        resolve(parse(reply).code);
      };
      this.socket.on('message', onMessage);
      this.socket.send(datagram, this.port, '127.0.0.1');
    });
  }
  close(): void {
    this.socket.close();
  }
}

async function timed(what: () => Promise<string>): Promise<{ code: string; ms: number; maxBlockMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const code = await what();
  const ms = performance.now() - started;
  delay.disable();
  return { code, ms, maxBlockMs: delay.max / 1e6 };
}

async function lookups(): Promise<void> {
  const dir = tmp('lookup');
  const { rd, stop } = await startRd(dir);
  const links = Array.from({ length: 5 }, (_, i) => ({ href: `/s/${i}`, attrs: { rt: `type${i}`, if: 'core.s' } }));
  for (let i = 0; i < REGISTRATIONS; i++) {
    const input = { ep: `node-${i}`, d: null, lt: 90_000, base: undefined, et: null, attrs: {}, links };
    rd.directory.register(input, { host: '10.0.0.1', port: 10_000 + i }, 'registration');
  }
  const client = await new Client(rd.address().port).bind();
  const other = await new Client(rd.address().port).bind();
  const rows: string[][] = [];
  const lookup = (query: string[]) => () => client.request({ method: 'GET', path: ['rd-lookup', 'res'], query });
  const flood = await timed(lookup(Array.from({ length: 15_000 }, () => 'a=*')));
  rows.push(['15,000 × `a=*` (one 60 KB datagram)', flood.code, flood.ms.toFixed(0), flood.maxBlockMs.toFixed(0)]);
  const distinct = await timed(lookup(Array.from({ length: 17 }, (_, i) => `a${i}=*`)));
  rows.push(['17 distinct filters', distinct.code, distinct.ms.toFixed(0), distinct.maxBlockMs.toFixed(0)]);
  const scan = lookup(Array.from({ length: 16 }, (_, i) => `x${i}=*`));
  const full = await timed(scan);
  rows.push(['16 distinct filters, full scan', full.code, full.ms.toFixed(0), full.maxBlockMs.toFixed(0)]);
  // A registration sent while the scan runs: answered in its own turn, not after the scan.
  const during = scan();
  const registration = await timed(() =>
    other.request({ method: 'POST', path: ['rd'], query: ['ep=during-scan'], payload: '</a>', contentFormat: 40 }),
  );
  await during;
  rows.push(['a registration during that scan', registration.code, registration.ms.toFixed(0), '']);
  console.log(
    `\nlookups over ${REGISTRATIONS.toLocaleString()} registrations of 5 links (before: 2.5 s of blocked loop)`,
  );
  printTable(['request', 'code', 'ms', 'longest event-loop block (ms)'], rows);
  client.close();
  other.close();
  await stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function bytes(): Promise<void> {
  const rows: string[][] = [];
  for (const [label, count, attrs] of [
    [
      `${FLOOD.toLocaleString()} × 60 attributes of 1 KB`,
      FLOOD,
      Array.from({ length: 60 }, (_, i) => `a${i}=${'v'.repeat(1000)}`),
    ],
    [
      'the largest allowed (32 × 250 bytes) until refused',
      20_000,
      Array.from({ length: 32 }, (_, i) => `a${i}=${'v'.repeat(250)}`),
    ],
  ] as const) {
    const dir = tmp('bytes');
    const { rd, stop } = await startRd(dir);
    const client = await new Client(rd.address().port).bind();
    const codes = new Map<string, number>();
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < count; i++) {
      const code = await client.request({
        method: 'POST',
        path: ['rd'],
        query: [`ep=flood-${i}`, ...attrs],
        payload: '</a>',
        contentFormat: 40,
      });
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code === '5.03') break;
    }
    const held = rd.directory.bytes;
    client.close();
    await stop();
    const summary = [...codes].map(([code, n]) => `${n.toLocaleString()} × ${code}`).join(', ');
    rows.push([label, summary, mb(held), mb(filesBytes(dir)), mb(process.memoryUsage().rss - rss)]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nbytes per registration (before: 10,000 × 60 KB took 630 MB of database and +744 MB RSS)');
  printTable(['registrations', 'answers', 'directory holds', 'database', 'RSS growth'], rows);
}

async function snapshot(): Promise<void> {
  const dir = tmp('snapshot');
  const hubConfig = parseConfig({ hub: { port: 0, db: path.join(dir, 'hub.db'), gateways: { gw: 'secret' } } }).hub;
  const hub = new Hub({ log: silentLogger(), config: hubConfig });
  const { port } = await hub.start();
  const store = new Store({ file: path.join(dir, 'gw.db') });
  store.write(() => {
    for (let i = 0; i < SNAPSHOT_DEVICES; i++) {
      store.devices.create({ ep: `sensor-${i}`, d: 'building-7', source: 'registration', host: '10.0.0.1', port: i });
    }
  });
  const last = store.devices.list().at(-1)!.id;
  const platform = parseConfig({
    platform: { url: `ws://127.0.0.1:${port}/v1/gateway`, gatewayId: 'gw', secret: 'secret' },
  });
  const connector = new Connector({
    store,
    bus: new EventBus(),
    log: silentLogger(),
    config: platform.platform,
    execute: () => Promise.resolve({ ok: false, error: { code: 'bad_request', message: 'none' } }),
  });
  const started = performance.now();
  await connector.start();
  const headers = { 'x-api-key': hubConfig.apiKey };
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/devices/${last}`, { headers }).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const listed = (
    (await (await fetch(`http://127.0.0.1:${port}/v1/devices`, { headers })).json()) as { devices: unknown[] }
  ).devices.length;
  console.log('\nsnapshot (before: over ~2,000 devices the single frame passed 1 MiB and the hub showed none)');
  printTable(
    ['devices at the gateway', 'listed by the hub', 'seconds'],
    [[SNAPSHOT_DEVICES.toLocaleString(), listed.toLocaleString(), seconds.toFixed(1)]],
  );
  await connector.stop();
  await hub.stop();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

await lookups();
await bytes();
await snapshot();
