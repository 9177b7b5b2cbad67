import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connector } from '../../connector/index.js';
import { closeCodes } from '../../connector/protocol/index.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { Store } from '../../src/store/index.js';
import { recordingLogger, type LogRecord } from '../helpers/log.js';
import { waitFor } from '../helpers/wait.js';
import {
  API_KEY,
  FakeGateway,
  GATEWAY_ID,
  GATEWAY_SECRET,
  eventsOf,
  openClient,
  startHub,
  subscribe,
  type Client,
  type RunningHub,
} from './harness.js';

let hub: RunningHub;
let records: LogRecord[];
const gateways: FakeGateway[] = [];
const sockets: WebSocket[] = [];
beforeEach(async () => {
  const recording = recordingLogger('info');
  records = recording.records;
  hub = await startHub({ log: recording.log });
});
afterEach(async () => {
  for (const gateway of gateways.splice(0)) gateway.close();
  for (const ws of sockets.splice(0)) ws.terminate();
  await hub.stop();
});

async function gatewayOf(instance: string): Promise<FakeGateway & { lastSeq: number }> {
  const gateway = await FakeGateway.connect(hub.port, GATEWAY_ID, GATEWAY_SECRET, instance);
  gateways.push(gateway);
  return gateway;
}

async function telemetrySubscriber(): Promise<Client> {
  const client = await openClient(hub.port, `/subscribe?clientName=watch&apiKey=${API_KEY}`);
  sockets.push(client.ws);
  await subscribe(client, 'telemetry');
  return client;
}

const telemetry = (seq: number, device: string) =>
  ({ type: 'telemetry', seq, device, path: '/v', ct: 50, value: seq, ts: seq }) as const;

describe('two gateways with the same id', () => {
  it('the second (another store) is refused with duplicateGateway; the first keeps its stream', async () => {
    const first = await gatewayOf('store-a');
    const second = await FakeGateway.open(hub.port);
    gateways.push(second);
    await second.hello(GATEWAY_ID, GATEWAY_SECRET, 'store-b');
    expect(await second.waitClosed()).toEqual({
      code: closeCodes.duplicateGateway,
      reason: 'another gateway with this id is connected',
    });
    first.send(telemetry(1, 'a1'));
    await first.acked(1);
    expect(first.closed).toBeUndefined();
    const refused = records.filter((r) => r.msg.startsWith('gateway refused: another gateway with the same id'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 40, gateway: GATEWAY_ID, instance: 'store-b', live: 'store-a' });
  });

  it('a reconnect of the same store still replaces its older session', async () => {
    const older = await gatewayOf('store-a');
    await gatewayOf('store-a');
    expect((await older.waitClosed()).code).toBe(closeCodes.replaced);
  });

  it('no value is dropped as a false duplicate when the other store takes the id over', async () => {
    const watch = await telemetrySubscriber();
    const a = await gatewayOf('store-a');
    for (let seq = 1; seq <= 50; seq++) a.send(telemetry(seq, 'from-a'));
    await a.acked(50);
    a.close();
    await waitFor(() => a.closed);
    // Gateway b's own outbox starts at 1: before hello.instance, the hub acked and dropped seq 1..50 as resends.
    const b = await gatewayOf('store-b');
    expect(b.lastSeq).toBe(0);
    for (let seq = 1; seq <= 50; seq++) b.send(telemetry(seq, 'from-b'));
    await b.acked(50);
    await waitFor(() => eventsOf(watch).length === 100);
    expect(eventsOf(watch).filter((name) => name === 'telemetry/from-b')).toHaveLength(50);
  });
});

describe('two real gateways configured with the same id', () => {
  it('the second logs one error naming platform.gatewayId and stays off the link; the first stays on', async () => {
    const dirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-dup-')));
    const stores = dirs.map((dir) => new Store({ file: path.join(dir, 'gw.db') }));
    const config = parseConfig({
      platform: {
        url: `ws://127.0.0.1:${hub.port}/v1/gateway`,
        gatewayId: GATEWAY_ID,
        secret: GATEWAY_SECRET,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
      },
    }).platform;
    const logs = stores.map(() => recordingLogger('info'));
    const connectors = stores.map(
      (store, i) =>
        new Connector({
          store,
          bus: new EventBus(),
          log: logs[i]!.log,
          config,
          execute: () => Promise.resolve({ ok: false, error: { code: 'bad_request', message: 'none' } }),
        }),
    );
    try {
      await connectors[0]!.start();
      await waitFor(() => connectors[0]!.state() === 'online');
      await connectors[1]!.start();
      const refused = await waitFor(() =>
        logs[1]!.records.find((r) => r.level === 50 && r.code === closeCodes.duplicateGateway),
      );
      expect(refused.msg).toMatch(/another gateway with the same platform\.gatewayId .* give each gateway its own id/);
      expect(connectors[1]!.state()).not.toBe('online');
      expect(connectors[0]!.state()).toBe('online');
    } finally {
      for (const connector of connectors) await connector.stop();
      for (const store of stores) store.close();
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
