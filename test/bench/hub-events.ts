import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { encodeFrame, hmacOf, parseHubFrame } from '../../connector/protocol/index.js';
import type { DeviceInfo } from '../../src/store/index.js';
import { freeTcpPort } from '../helpers/ports.js';
import type { ProbeReport } from './probe.js';
import { QUICK, startShipped } from './shipped.js';
import { printTable } from './table.js';

/**
 * The hub's cost per device event, apart from any gateway: `coregate hub` in a process of its own takes, from one
 * synthetic gateway, a `device.registered` for each of N devices, as fast as the connector's window of 1,000
 * unacked frames lets them through, and then a `device.updated` for each (a re-registration that changed the device: new
 * `lastSeen`, `updatedAt` and `expiresAt`) at a gateway's registration rate, where each turn of the hub's loop takes a
 * burst of a few dozen.
 * Figures: the hub's CPU per event (its own clock, process.cpuUsage, which a busy machine distorts less than a rate)
 * and its heap per device after a full GC. An embedded hub (`coregate start` without `platform.url`) pays the same
 * per event inside the gateway's process.
 */

const DEVICES = QUICK ? 10_000 : 50_000;
const WINDOW = 1_000;
/** Events a second of the paced phase: a gateway's registrations at its target rate. */
const PACED_RATE = 5_000;
/** A gateway's outbox sends what each commit of its store made durable: a burst every batch window (5 ms). */
const TICK_MS = 5;
const GATEWAY_ID = 'bench-gw';
const SECRET = 'bench-secret';
/** What LeanFleet's devices register (src/thing/lean-fleet.ts). */
const RESOURCES: DeviceInfo['resources'] = [
  { href: '/sensors/temp', attrs: { rt: 'temperature', if: 'core.s', obs: true } },
  { href: '/sensors/hum', attrs: { rt: 'humidity', if: 'core.s' } },
  { href: '/sensors/light', attrs: { rt: 'light-lux', if: 'core.s' } },
  { href: '/actuators/led', attrs: { rt: 'light', if: 'core.a' } },
  { href: '/cfg', attrs: { rt: 'config' } },
];

function deviceInfo(n: number, now: number): DeviceInfo {
  const address = `127.0.${1 + (n >> 14)}.1:${1024 + (n & 0x3fff)}`;
  return {
    id: `d${n.toString(36).padStart(7, '0')}`,
    ep: `fleet-${n}`,
    d: null,
    address,
    status: 'online',
    source: 'registration',
    registered: true,
    lastSeen: now,
    resources: RESOURCES,
    registration: { base: `coap://${address}`, lt: 300, et: null, attrs: {}, updatedAt: now, expiresAt: now + 300_000 },
  };
}

/**
 * A synthetic gateway: sends `frames` (encoded with seqs from 1) after the hub's `lastSeq` up to `until`, within the
 * window, at most `rate` a second if given (in bursts every TICK_MS), and resolves on the ack of the
 * last one.
 */
async function stream(port: number, frames: string[], until: number, rate?: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/gateway`);
  let sent = 0;
  let acked = 0;
  let first: { at: number; sent: number } | undefined;
  let ticks: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      sent = Math.max(sent, acked);
      first ??= { at: performance.now(), sent };
      const due = rate === undefined ? until : first.sent + Math.floor(((performance.now() - first.at) * rate) / 1000);
      while (sent < Math.min(until, due) && sent - acked < WINDOW) ws.send(frames[sent++]!);
    };
    if (rate !== undefined) ticks = setInterval(() => acked > 0 && pump(), TICK_MS);
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const parsed = parseHubFrame(data);
      if (!parsed.ok) return reject(new Error(parsed.error.message));
      const frame = parsed.frame;
      if (frame.type === 'challenge')
        ws.send(encodeFrame({ type: 'hello', gateway: GATEWAY_ID, hmac: hmacOf(frame.nonce, SECRET) }));
      else if (frame.type === 'welcome') {
        acked = frame.lastSeq;
        pump();
      } else if (frame.type === 'ack') {
        acked = frame.seq;
        if (acked >= until) resolve();
        else pump();
      } else if (frame.type === 'error') reject(new Error(frame.message));
    });
  });
  clearInterval(ticks);
  ws.close();
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-bench-hub-events-'));
  const port = await freeTcpPort();
  const hub = startShipped(
    'hub',
    ['hub'],
    { hub: { port, db: path.join(dir, 'hub.db'), gateways: { [GATEWAY_ID]: SECRET } } },
    dir,
  );
  try {
    const now = Date.now();
    const frames: string[] = [];
    for (const name of ['device.registered', 'device.updated'] as const)
      for (let n = 0; n < DEVICES; n++)
        frames.push(
          encodeFrame({
            type: 'event',
            seq: frames.length + 1,
            name,
            device: deviceInfo(n, now + frames.length),
            ts: now,
          }),
        );
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (up) break;
      if (i > 100) throw new Error('the hub did not come up');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const empty = await hub.gc();
    // CPU from plain probes: a full GC between them would be counted against the events.
    const cpu0 = await hub.probe();
    const started = performance.now();
    await stream(port, frames, DEVICES);
    const registeredMs = performance.now() - started;
    const cpu1 = await hub.probe();
    const full = await hub.gc();
    const cpu2 = await hub.probe();
    await stream(port, frames, 2 * DEVICES, PACED_RATE);
    const cpu3 = await hub.probe();
    const load = os.loadavg()[0]!.toFixed(1);
    const perEvent = (a: ProbeReport, b: ProbeReport): string =>
      `${(((b.cpuMs - a.cpuMs) * 1000) / DEVICES).toFixed(1)} µs`;
    console.log(`hub-events: ${DEVICES} devices, registered then updated, one synthetic gateway`);
    printTable(
      ['figure', 'result'],
      [
        ['hub CPU per device.registered, as fast as acked', perEvent(cpu0, cpu1)],
        [`hub CPU per device.updated, ${PACED_RATE}/s`, perEvent(cpu2, cpu3)],
        ['registered events/s (wall clock)', ((DEVICES * 1000) / registeredMs).toFixed(0)],
        ['hub heap per device (after a full GC)', `${((full.heapUsed - empty.heapUsed) / DEVICES).toFixed(0)} B`],
      ],
    );
    console.log(`2 CPUs (shared), load average ${load}, node ${process.version}`);
  } finally {
    await hub.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
