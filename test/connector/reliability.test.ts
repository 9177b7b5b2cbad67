import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { closeCodes, encodeFrame, hmacOf, parseHubFrame, type HubFrame } from '../../connector/protocol/index.js';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import { waitFor } from '../helpers/wait.js';
import {
  CoregateProcess,
  GATEWAY_ID,
  GATEWAY_SECRET,
  hubApi,
  LinkProxy,
  startGateway,
  startHub,
  Subscriber,
} from './platform-harness.js';

/**
 * The platform link end to end with real processes: `coregate hub` and `coregate start`
 * as children, simulated things (src/thing) registering with the gateway over UDP, a pub/sub client of the hub
 * watching what arrives. A TCP proxy on the link lets the test decide when the gateway may reach the hub.
 */

let dir: string;
let proxy: LinkProxy;
const processes: CoregateProcess[] = [];
const subscribers: Subscriber[] = [];
const things: Thing[] = [];
let producer: NodeJS.Timeout | undefined;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-reliability-'));
  proxy = await LinkProxy.start();
});

afterEach(async () => {
  clearInterval(producer);
  for (const subscriber of subscribers.splice(0)) subscriber.close();
  await Promise.all(things.splice(0).map((thing) => thing.stop().catch(() => {})));
  await Promise.all(processes.splice(0).map((p) => p.stop()));
  await proxy.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function track<T extends CoregateProcess | Subscriber>(item: T): T {
  if (item instanceof Subscriber) subscribers.push(item);
  else processes.push(item);
  return item;
}

async function hub(): Promise<number> {
  const started = await startHub(dir);
  track(started.hub);
  return started.port;
}

async function gateway(
  url = proxy.url(),
  options: { secret?: string; coapPort?: number } = {},
): Promise<{ process: CoregateProcess; coapPort: number }> {
  const started = await startGateway(dir, url, options);
  return { process: track(started.gateway), coapPort: started.coapPort };
}

/** Things whose temperature starts at 0 and is then driven as a counter by produce(). */
async function startThings(coapPort: number, names: string[]): Promise<Thing[]> {
  const started = names.map(
    (name) => new Thing({ log: silentLogger(), name, rd: { host: '127.0.0.1', port: coapPort }, sensorIntervalMs: 0 }),
  );
  for (const thing of started) {
    thing.resources.temperature.set(0);
    things.push(thing);
  }
  await Promise.all(started.map((thing) => thing.start()));
  return started;
}

/** Sets every thing's temperature to 1, 2, 3... every 10 ms (each change is an Observe notification). */
function produce(from: Map<Thing, number>): Map<Thing, number> {
  producer = setInterval(() => {
    for (const [thing, last] of from) {
      from.set(thing, last + 1);
      thing.resources.temperature.set(last + 1);
    }
  }, 10);
  return from;
}

function stopProducing(): void {
  clearInterval(producer);
  producer = undefined;
}

/** Temperature values per device id, in arrival order, over the subscribers' lives in order. */
function temperatures(...subs: Subscriber[]): Map<string, number[]> {
  const byDevice = new Map<string, number[]>();
  for (const message of subs.flatMap((s) => s.messages)) {
    if (!message.event.startsWith('telemetry/') || message.data.path !== '/sensors/temp') continue;
    const device = message.data.device as string;
    const value = (message.data.value as { temperature: number }).temperature;
    byDevice.set(device, [...(byDevice.get(device) ?? []), value]);
  }
  return byDevice;
}

async function deviceIdOf(hubPort: number, ep: string): Promise<string> {
  return waitFor(
    async () => {
      const { body } = await hubApi(hubPort, 'GET', '/v1/devices');
      return (body.devices as { id: string; ep: string | null }[]).find((d) => d.ep === ep)?.id;
    },
    { what: `device ${ep} at the hub` },
  );
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('reliability across restarts', () => {
  test('hub restarted while things stream: every value and event produced meanwhile arrives exactly once, in order', async () => {
    const hubPort = await hub();
    proxy.connectTo(hubPort);
    const before = track(await Subscriber.connect(hubPort, ['telemetry', 'device.*']));
    const { coapPort } = await gateway();
    const fleet = await startThings(coapPort, ['a', 'b', 'c']);
    const ids = await Promise.all(fleet.map((t) => deviceIdOf(hubPort, t.name)));
    await waitFor(() => ids.every((id) => temperatures(before).get(id)?.includes(0)), { what: 'observed' });

    const counters = produce(new Map(fleet.map((t) => [t, 0])));
    await waitFor(() => ids.every((id) => (temperatures(before).get(id)?.length ?? 0) > 20), { what: 'streaming' });

    await processes[0]!.stop();
    proxy.cut();
    const late = (await startThings(coapPort, ['late']))[0]!;
    const whileDown = counters.get(fleet[0]!)!;
    await waitFor(() => counters.get(fleet[0]!)! > whileDown + 50, { what: 'values produced while the hub is down' });

    const hubPort2 = await hub();
    const after = track(await Subscriber.connect(hubPort2, ['telemetry', 'device.*']));
    proxy.connectTo(hubPort2);
    await waitFor(() => (temperatures(after).get(ids[0]!)?.length ?? 0) > 60, { what: 'streaming again' });
    stopProducing();

    const finals = fleet.map((t) => counters.get(t)!);
    await waitFor(() => ids.every((id, i) => temperatures(before, after).get(id)?.at(-1) === finals[i]), {
      what: 'the last values',
      timeoutMs: 20_000,
    });
    ids.forEach((id, i) => {
      const values = temperatures(before, after)
        .get(id)!
        .filter((v) => v > 0);
      expect(values, `device ${fleet[i]!.name}`).toEqual(range(1, finals[i]!));
    });
    const registeredLate = after.messages.filter(
      (m) => m.event === 'device.registered' && (m.data.device as { ep: string }).ep === late.name,
    );
    expect(registeredLate).toHaveLength(1);
    expect(
      before.messages.some(
        (m) => m.event === 'device.registered' && (m.data.device as { ep: string }).ep === late.name,
      ),
    ).toBe(false);
  });

  test('gateway restarted mid-stream: everything in its outbox arrives exactly once, in order, then it streams on', async () => {
    const hubPort = await hub();
    proxy.connectTo(hubPort);
    const watcher = track(await Subscriber.connect(hubPort, ['telemetry']));
    const first = await gateway();
    const fleet = await startThings(first.coapPort, ['a', 'b']);
    const ids = await Promise.all(fleet.map((t) => deviceIdOf(hubPort, t.name)));
    await waitFor(() => ids.every((id) => temperatures(watcher).get(id)?.includes(0)), { what: 'observed' });

    // The hub is out of reach: values pile up in the gateway's outbox.
    proxy.cut();
    const counters = produce(new Map(fleet.map((t) => [t, 0])));
    await waitFor(() => outboxHolds(path.join(dir, 'gateway.db'), 40 * fleet.length), { what: 'a full outbox' });

    // Restart mid-stream (things keep producing), on the same CoAP port the things registered with.
    await first.process.stop();
    const held = outboxTemperatures(path.join(dir, 'gateway.db'));
    await gateway(proxy.url(), { coapPort: first.coapPort });
    proxy.connectTo(hubPort);
    await waitFor(() => ids.every((id) => (temperatures(watcher).get(id)?.at(-1) ?? 0) > (held.get(id)?.at(-1) ?? 0)), {
      what: 'values observed by the restarted gateway',
      timeoutMs: 20_000,
    });
    stopProducing();
    const finals = fleet.map((t) => counters.get(t)!);
    await waitFor(() => ids.every((id, i) => temperatures(watcher).get(id)?.at(-1) === finals[i]), {
      what: 'the last values',
      timeoutMs: 20_000,
    });

    for (const id of ids) {
      const values = temperatures(watcher)
        .get(id)!
        .filter((v) => v > 0);
      expect(values, 'in order, none twice').toEqual([...new Set(values)].sort((x, y) => x - y));
      expect(values.slice(0, held.get(id)!.length), 'the outbox, whole').toEqual(held.get(id));
    }
  });
});

describe('refusals', () => {
  test('a wrong gateway secret is closed with 4001 and a reason; the gateway keeps running and retrying', async () => {
    const hubPort = await hub();
    const { process: gw } = await gateway(`ws://127.0.0.1:${hubPort}/v1/gateway`, { secret: 'not-the-secret' });
    const line = await gw.logged({ component: 'connector', code: closeCodes.badCredentials });
    expect(line.msg).toContain('refused the credentials');
    expect(line.reason).toContain(GATEWAY_ID);
    expect(gw.exited).toBe(false);
    expect(gw.count({ component: 'connector', state: 'online' })).toBe(0);
  });

  test('malformed and oversized frames from a gateway get error frames; the link stays up and keeps its acks', async () => {
    const hubPort = await hub();
    const ws = new WebSocket(`ws://127.0.0.1:${hubPort}/v1/gateway`);
    const frames: HubFrame[] = [];
    ws.on('message', (data, isBinary) => {
      const parsed = parseHubFrame(data as Buffer, isBinary);
      if (parsed.ok) frames.push(parsed.frame);
    });
    try {
      const challenge = await waitFor(() => frames.find((f) => f.type === 'challenge'));
      ws.send(encodeFrame({ type: 'hello', gateway: GATEWAY_ID, hmac: hmacOf(challenge.nonce, GATEWAY_SECRET) }));
      const welcome = await waitFor(() => frames.find((f) => f.type === 'welcome'));
      const seq = welcome.lastSeq + 1;
      ws.send('{"type": "telemetry",');
      ws.send(JSON.stringify({ type: 'telemetry', seq: 'x' }));
      ws.send(JSON.stringify({ type: 'teleport' }));
      ws.send(
        JSON.stringify({
          type: 'telemetry',
          seq,
          device: 'd',
          path: '/p',
          ct: 0,
          value: 'x'.repeat(1.5 * 1024 * 1024),
          ts: 1,
        }),
      );
      await waitFor(() => frames.filter((f) => f.type === 'error').length === 4, { what: 'four error frames' });
      const codes = frames.filter((f) => f.type === 'error').map((f) => (f as { code: string }).code);
      expect(codes).toEqual(['invalid_json', 'invalid_frame', 'unknown_type', 'frame_too_large']);
      ws.send(encodeFrame({ type: 'telemetry', seq, device: 'd', path: '/p', ct: 0, value: 'ok', ts: 1 }));
      await waitFor(() => frames.some((f) => f.type === 'ack' && f.seq === seq), { what: 'the ack' });
      expect(ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      ws.terminate();
    }
  });
});

describe('commands end to end', () => {
  test('a command whose device goes silent mid-request gets 504 or 503, never a hang; a live one gets its reply', async () => {
    const hubPort = await hub();
    const { coapPort } = await gateway(`ws://127.0.0.1:${hubPort}/v1/gateway`);
    const [thing] = await startThings(coapPort, ['cmd']);
    const id = await deviceIdOf(hubPort, thing!.name);

    const led = await hubApi(hubPort, 'POST', `/v1/devices/${id}/send`, {
      method: 'PUT',
      path: '/actuators/led',
      payload: { on: true },
      ct: 50,
    });
    expect(led.status).toBe(200);
    expect(led.body).toMatchObject({ device: id, code: '2.04' });

    const slow = hubApi(hubPort, 'POST', `/v1/devices/${id}/send`, {
      method: 'GET',
      path: '/slow',
      query: ['ms=3000'],
      timeout: 2000,
    });
    await waitFor(() => thing!.requestLog.some((r) => r.path === '/slow'), { what: 'the request at the thing' });
    await thing!.goSilent();
    const reply = await slow;
    expect([503, 504]).toContain(reply.status);
  });

  test('a command in flight when the gateway process dies gets 503, never a hang', async () => {
    const hubPort = await hub();
    const { process: gw, coapPort } = await gateway(`ws://127.0.0.1:${hubPort}/v1/gateway`);
    const [thing] = await startThings(coapPort, ['cmd2']);
    const id = await deviceIdOf(hubPort, thing!.name);
    const slow = hubApi(hubPort, 'POST', `/v1/devices/${id}/send`, {
      method: 'GET',
      path: '/slow',
      query: ['ms=5000'],
      timeout: 10_000,
    });
    await waitFor(() => thing!.requestLog.some((r) => r.path === '/slow'), { what: 'the request at the thing' });
    await gw.kill();
    expect((await slow).status).toBe(503);
  });
});

/** True when the gateway's outbox (read from its SQLite file) holds at least `n` telemetry entries. */
function outboxHolds(file: string, n: number): boolean {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) FROM outbox WHERE kind = 'telemetry'").pluck().get() as number) >= n;
  } finally {
    db.close();
  }
}

/** Temperatures waiting in the gateway's outbox, per device, in seq order. */
function outboxTemperatures(file: string): Map<string, number[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT body FROM outbox WHERE kind = 'telemetry' ORDER BY seq").pluck().all() as string[];
    const byDevice = new Map<string, number[]>();
    for (const row of rows) {
      const body = JSON.parse(row) as { device: string; path: string; value: { temperature: number } };
      if (body.path !== '/sensors/temp' || body.value.temperature === 0) continue;
      byDevice.set(body.device, [...(byDevice.get(body.device) ?? []), body.value.temperature]);
    }
    return byDevice;
  } finally {
    db.close();
  }
}
