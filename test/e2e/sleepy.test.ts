import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import { startCli, stopProcess } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Sleepy devices end to end, as processes: `coregate start` (embedded hub) with a short awake window, a
 * simulated thing whose radio is off between its awake windows (it drops every datagram then), a pub/sub
 * subscriber and a webhook receiver; commands go in through the hub's HTTP API.
 */
const KEY = 'coregate-dev-key';
let dir: string;
let gateway: ChildProcess | undefined;
let gatewayLog = '';
let hubPort: number;
let rdPort: number;
let sleepy: Thing;
let awake: Thing;
let subscriber: WebSocket;
const pushed: Array<{ event: string; data: { id: string; status: string } }> = [];
const hooked: Array<{ event: string; data: { id: string; status: string } }> = [];
let hookServer: http.Server;

interface CommandView {
  id: string;
  device: string;
  status: string;
  result?: { code?: string; error?: { code: string } };
}

function hub(pathname: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${hubPort}${pathname}`, {
    ...init,
    headers: { 'X-API-Key': KEY, 'content-type': 'application/json', ...init.headers },
  });
}

async function startGateway(): Promise<void> {
  gatewayLog = '';
  gateway = startCli(['start', '--config', path.join(dir, 'gateway.config.json')]);
  gateway.stdout!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()));
  gateway.stderr!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()));
  await waitFor(() => gatewayLog.includes('platform link online'), { what: 'gateway online', timeoutMs: 20_000 });
}

async function deviceOf(thing: Thing): Promise<{ id: string; status: string; sleepy?: boolean }> {
  return waitFor(
    async () => {
      const body = (await (await hub('/v1/devices')).json()) as {
        devices: Array<{ id: string; ep: string; status: string }>;
      };
      return body.devices.find((d) => d.ep === thing.name);
    },
    { what: `${thing.name} at the hub`, timeoutMs: 15_000 },
  );
}

async function statusOf(id: string): Promise<string> {
  return ((await (await hub(`/v1/devices/${id}`)).json()) as { status: string }).status;
}

/** Waits until the gateway holds the device asleep: a command sent now can only go out when it next wakes. */
async function untilAsleep(id: string): Promise<void> {
  await waitFor(async () => (await statusOf(id)) === 'asleep', { what: 'the device asleep', timeoutMs: 15_000 });
}

async function queue(id: string, marker: string, extra: Record<string, unknown> = {}): Promise<CommandView> {
  const res = await hub(`/v1/devices/${id}/send`, {
    method: 'POST',
    body: JSON.stringify({
      method: 'PUT',
      path: '/actuators/led',
      query: `n=${marker}`,
      payload: { on: true },
      queue: true,
      ...extra,
    }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as CommandView;
}

async function command(id: string): Promise<CommandView> {
  return (await (await hub(`/v1/commands/${id}`)).json()) as CommandView;
}

async function untilFinished(id: string, timeoutMs = 20_000): Promise<CommandView> {
  return waitFor(
    async () => {
      const view = await command(id);
      return ['done', 'failed', 'expired', 'cancelled'].includes(view.status) ? view : undefined;
    },
    { what: `command ${id} finished`, timeoutMs },
  );
}

/** The markers of the LED commands the thing actually received, in order. */
const received = (): string[] =>
  sleepy.requestLog.filter((r) => r.path === '/actuators/led' && r.method === 'PUT').map((r) => r.query[0]!.slice(2));

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-sleepy-'));
  hubPort = await freeTcpPort();
  rdPort = await freeUdpPort();
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      hooked.push(JSON.parse(body) as (typeof hooked)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  const hookPort = (hookServer.address() as { port: number }).port;
  const config = {
    db: path.join(dir, 'gateway.db'),
    coap: { bind: '127.0.0.1', port: rdPort },
    discovery: { enabled: false },
    pinger: { intervalSeconds: 1, jitter: 0, timeoutMs: 500 },
    sleepy: { awakeWindowSeconds: 1 },
    platform: { gatewayId: 'gw-sleepy' },
    hub: {
      port: hubPort,
      db: path.join(dir, 'hub.db'),
      webhooks: [{ url: `http://127.0.0.1:${hookPort}/hook`, events: ['command.result'] }],
    },
  };
  fs.writeFileSync(path.join(dir, 'gateway.config.json'), JSON.stringify(config));
  await startGateway();
  const rd = { host: '127.0.0.1', port: rdPort };
  sleepy = new Thing({
    log: silentLogger(),
    name: 'sleeper',
    rd,
    sensorIntervalMs: 0,
    sleepy: { awakeMs: 1500, sleepMs: 2000 },
  });
  awake = new Thing({ log: silentLogger(), name: 'always-on', rd, sensorIntervalMs: 0 });
  await sleepy.start();
  await awake.start();
  subscriber = new WebSocket(`ws://127.0.0.1:${hubPort}/subscribe?clientName=test&apiKey=${KEY}`);
  const subscribed = new Promise<void>((resolve) =>
    subscriber.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { action?: string; event?: string };
      if (message.action === 'subscribed') resolve();
      else if (message.event === 'command.result') pushed.push(message as (typeof pushed)[number]);
    }),
  );
  subscriber.on('open', () => subscriber.send(JSON.stringify({ action: 'subscribe', event: 'command.result' })));
  await subscribed;
});

afterAll(async () => {
  subscriber?.terminate();
  await sleepy?.stop();
  await awake?.stop();
  if (gateway) await stopProcess(gateway);
  await new Promise<void>((resolve) => hookServer?.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sleepy devices and queued commands (coregate start, embedded hub)', () => {
  it('shows a device that registers with the sleepy attribute as sleepy, and asleep after its awake window', async () => {
    const device = await deviceOf(sleepy);
    expect(device.sleepy).toBe(true);
    await untilAsleep(device.id);
    expect((await deviceOf(awake)).sleepy).toBe(false);
  });

  it('delivers commands queued while it sleeps in its next awake window, in order, exactly once, with events and webhooks', async () => {
    const { id } = await deviceOf(sleepy);
    await untilAsleep(id);
    const queued = [await queue(id, 'a1'), await queue(id, 'a2'), await queue(id, 'a3')];
    for (const view of queued) expect(view).toMatchObject({ device: id, status: 'queued' });
    const pending = (await (await hub(`/v1/devices/${id}/commands`)).json()) as { commands: CommandView[] };
    expect(pending.commands.map((c) => c.id)).toEqual(queued.map((c) => c.id));

    const finished = await Promise.all(queued.map((c) => untilFinished(c.id)));
    for (const view of finished) expect(view).toMatchObject({ status: 'done', result: { code: '2.04' } });
    expect(received()).toEqual(['a1', 'a2', 'a3']);
    const ids = queued.map((c) => c.id);
    await waitFor(() => ids.every((i) => pushed.some((m) => m.data.id === i)), { what: 'pub/sub command.result' });
    await waitFor(() => ids.every((i) => hooked.some((m) => m.data.id === i)), { what: 'webhook command.result' });
    expect(pushed.filter((m) => ids.includes(m.data.id)).map((m) => m.data.status)).toEqual(['done', 'done', 'done']);
    expect(pushed.filter((m) => ids.includes(m.data.id)).map((m) => m.data.id)).toEqual(ids);
    const after = (await (await hub(`/v1/devices/${id}/commands`)).json()) as { commands: CommandView[] };
    expect(after.commands).toEqual([]);
  });

  it('answers a plain send to an asleep device when it wakes within the timeout', async () => {
    const { id } = await deviceOf(sleepy);
    await untilAsleep(id);
    const res = await hub(`/v1/devices/${id}/send`, {
      method: 'POST',
      body: JSON.stringify({
        method: 'PUT',
        path: '/actuators/led',
        query: 'n=sync',
        payload: { on: false },
        timeout: 10_000,
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code: '2.04' });
    expect(received().filter((m) => m === 'sync')).toHaveLength(1);
  });

  it('cancels a queued command: it is reported cancelled and never reaches the device', async () => {
    const { id } = await deviceOf(sleepy);
    await untilAsleep(id);
    const doomed = await queue(id, 'cancelled');
    const kept = await queue(id, 'kept');
    const res = await hub(`/v1/commands/${doomed.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: doomed.id, status: 'cancelled' });
    expect(await untilFinished(kept.id)).toMatchObject({ status: 'done' });
    expect(received()).not.toContain('cancelled');
    const again = await hub(`/v1/commands/${kept.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    await waitFor(() => pushed.some((m) => m.data.id === doomed.id && m.data.status === 'cancelled'), {
      what: 'command.result cancelled',
    });
  });

  it('keeps a queued command across a gateway (and embedded hub) restart and delivers it after', async () => {
    const { id } = await deviceOf(sleepy);
    await untilAsleep(id);
    const before = await queue(id, 'restart');
    await stopProcess(gateway!);
    await startGateway();
    expect((await command(before.id)).status).toMatch(/queued|sent|done/);
    expect(await untilFinished(before.id)).toMatchObject({ status: 'done', result: { code: '2.04' } });
    expect(received().filter((m) => m === 'restart')).toHaveLength(1);
  });

  it('reports a command whose ttl runs out before the device wakes as expired', async () => {
    const { id } = await deviceOf(sleepy);
    // Right after its radio goes off: the next wake is a whole sleep (2 s) away, twice the ttl.
    await new Promise((resolve) => sleepy.once('asleep', resolve));
    await untilAsleep(id);
    const short = await queue(id, 'expired', { ttl: 1 });
    expect(await untilFinished(short.id)).toMatchObject({ status: 'expired', result: { error: { code: 'timeout' } } });
    expect(received()).not.toContain('expired');
    await waitFor(() => hooked.some((m) => m.data.id === short.id && m.data.status === 'expired'), {
      what: 'webhook for the expired command',
    });
  });

  it('never pings the sleepy device, while the pinger pings the other one', async () => {
    await waitFor(() => awake.stats.pings >= 3, { what: 'pings at the always-on thing', timeoutMs: 10_000 });
    expect(sleepy.radioStats.pings).toBe(0);
    expect(sleepy.radioStats.datagrams).toBeGreaterThan(0);
  });
});
