import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Connector } from '../../connector/index.js';
import type { Command, CommandResult, Execute } from '../../src/command.js';
import { parseConfig, type PlatformConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';
import { HubPeer, type HubPeerOptions } from './hub-peer.js';

const GATEWAY = 'gw-test';
const SECRET = 'test-secret-1';

let dir: string;
let store: Store;
let bus: EventBus;
let hub: HubPeer;
let connector: Connector | undefined;
const executed: Command[] = [];

function platformConfig(url: string, secret = SECRET): PlatformConfig {
  return parseConfig({ platform: { url, gatewayId: GATEWAY, secret, reconnectMinMs: 20, reconnectMaxMs: 200 } })
    .platform;
}

const echo: Execute = async (command) => {
  executed.push(command);
  return { ok: true, code: '2.05', ct: command.ct ?? null, payload: command.payload ?? Buffer.alloc(0) };
};

function startConnector(execute: Execute = echo, config = platformConfig(hub.url)): Connector {
  connector = new Connector({ store, bus, log: silentLogger(), config, execute });
  void connector.start();
  return connector;
}

function emitTelemetry(device: string, value: unknown, n = 1): void {
  for (let i = 0; i < n; i++) bus.emit('telemetry', { device, path: '/v', ct: 50, value, ts: Date.now() });
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-connector-'));
  store = new Store({ file: path.join(dir, 'gw.db') });
  bus = new EventBus();
  hub = await HubPeer.start({ secrets: { [GATEWAY]: SECRET }, heartbeat: 15 });
  executed.length = 0;
});

afterEach(async () => {
  await connector?.stop();
  connector = undefined;
  await hub.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('handshake', () => {
  test('answers the challenge with an HMAC, goes online and sends a snapshot of every device', async () => {
    const device = store.devices.create({
      ep: 'node1',
      d: null,
      host: '127.0.0.1',
      port: 5700,
      source: 'registration',
    });
    const c = startConnector();
    await waitFor(() => c.state() === 'online', { what: 'online' });
    await waitFor(() => hub.snapshots.length === 1, { what: 'snapshot' });
    expect(hub.snapshots[0]!.devices.map((d) => d.id)).toEqual([device.id]);
    expect(hub.snapshots[0]!.devices[0]).toMatchObject({ ep: 'node1', address: '127.0.0.1:5700', status: 'online' });
  });

  test('a wrong secret is closed with 4001; the connector keeps retrying and never goes online', async () => {
    const c = startConnector(echo, platformConfig(hub.url, 'wrong-secret'));
    await waitFor(() => hub.closes.length >= 2, { what: 'two refused attempts' });
    expect(hub.closes[0]).toEqual({ code: 4001, reason: 'bad gateway credentials' });
    expect(c.state()).not.toBe('online');
    expect(hub.snapshots).toHaveLength(0);
  });

  test('stop() closes the link with 1000 and the connector ends offline', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    await c.stop();
    await waitFor(() => hub.closes.length === 1);
    expect(hub.closes[0]!.code).toBe(1000);
    expect(c.state()).toBe('offline');
  });
});

describe('upstream', () => {
  test('values produced while the hub was unreachable are sent in order after a restart, and acks trim the outbox', async () => {
    await recordOffline(() => {
      emitTelemetry('dev1', 1, 50);
      bus.emit('device.online', { device: store.info(store.devices.create(newDevice('n1'))) });
    });
    expect(store.outbox.count()).toBe(51);
    startConnector();
    await waitFor(() => hub.taken.length === 51, { what: '51 frames' });
    expect(hub.taken.map((f) => f.seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    expect(hub.taken[50]).toMatchObject({ type: 'event', name: 'device.online' });
    await waitFor(() => store.outbox.count() === 0, { what: 'outbox trimmed' });
  });

  test('a dropped link loses nothing: everything produced while down arrives exactly once, in order', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    for (let round = 0; round < 5; round++) {
      emitTelemetry('dev1', round, 200);
      hub.crash();
      emitTelemetry('dev1', round, 100);
      await waitFor(() => hub.connections === round + 2 && c.state() === 'online', { what: `session ${round + 2}` });
    }
    await waitFor(() => hub.taken.length === 1500, { what: '1500 frames', timeoutMs: 20_000 });
    expect(hub.taken.map((f) => f.seq)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(hub.connections).toBeGreaterThanOrEqual(6);
  });

  test('after welcome, only what follows the hub’s lastSeq is resent', async () => {
    await recordOffline(() => emitTelemetry('dev1', 'x', 10));
    hub = await replaceHub({ secrets: { [GATEWAY]: SECRET }, lastSeq: 7 });
    startConnector();
    await waitFor(() => hub.taken.length === 3);
    expect(hub.taken.map((f) => f.seq)).toEqual([8, 9, 10]);
    expect(hub.duplicates).toHaveLength(0);
  });

  test('a hub holding seqs beyond this outbox (gateway database replaced) gets the waiting entries renumbered after them', async () => {
    await recordOffline(() => emitTelemetry('dev1', 'new', 3));
    hub = await replaceHub({ secrets: { [GATEWAY]: SECRET }, lastSeq: 5000 });
    const c = startConnector();
    await waitFor(() => hub.taken.length === 3);
    expect(hub.taken.map((f) => [f.seq, (f as { value: unknown }).value])).toEqual([
      [5001, 'new'],
      [5002, 'new'],
      [5003, 'new'],
    ]);
    emitTelemetry('dev1', 'live');
    await waitFor(() => hub.taken.length === 4);
    expect(hub.taken[3]!.seq).toBe(5004);
    expect(c.state()).toBe('online');
  });

  test('values that could not be written to the outbox are kept and written once SQLite takes writes again', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    // SQLite refuses writes from here on, as with a full disk; the store keeps its connection private.
    const db = store['db'];
    db.pragma('query_only = ON');
    emitTelemetry('dev1', 'kept', 5);
    // The flush runs on the turn's setImmediate, before this one: it has failed by now.
    await new Promise((resolve) => setImmediate(resolve));
    expect(hub.taken).toHaveLength(0);
    db.pragma('query_only = OFF');
    await waitFor(() => hub.taken.length === 5, { what: 'the kept values' });
    expect(hub.taken.map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  test('at most a window of frames is in flight without acks; acks release the rest', async () => {
    hub = await replaceHub({ secrets: { [GATEWAY]: SECRET }, autoAck: false });
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    emitTelemetry('dev1', 0, 2500);
    await waitFor(() => hub.taken.length === 1000, { what: 'a full window' });
    hub.ack(1000);
    await waitFor(() => hub.taken.length === 2000, { what: 'the second window' });
    hub.ack(2000);
    await waitFor(() => hub.taken.length === 2500);
    expect(store.outbox.count()).toBe(500);
    expect(hub.taken.map((f) => f.seq)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  test('device events carry the device and the removal reason; bytes travel as base64', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    const info = store.info(store.devices.create(newDevice('n2')));
    bus.emit('device.removed', { device: info, reason: 'expired' });
    bus.emit('telemetry', { device: info.id, path: '/raw', ct: 42, value: Buffer.from([1, 2, 255]), ts: 5 });
    await waitFor(() => hub.taken.length === 2);
    expect(hub.taken[0]).toMatchObject({ type: 'event', name: 'device.removed', reason: 'expired', device: info });
    expect(hub.taken[1]).toMatchObject({ type: 'telemetry', value: 'AQL/', encoding: 'base64', ct: 42, ts: 5 });
  });
});

describe('downstream commands', () => {
  test('a command gets exactly one result with the payload decoded by content-format', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    hub.send({ type: 'command', id: 'c1', device: 'd1', method: 'PUT', path: '/led', payload: { on: true }, ct: 50 });
    hub.send({
      type: 'command',
      id: 'c2',
      device: 'd1',
      method: 'POST',
      path: '/raw',
      payload: 'AAEC',
      ct: 42,
      encoding: 'base64',
    });
    hub.send({ type: 'command', id: 'c3', device: 'd1', method: 'PUT', path: '/t', payload: 'hello', ct: 0 });
    await waitFor(() => hub.results.length === 3);
    const byId = Object.fromEntries(hub.results.map((r) => [r.id, r]));
    expect(byId.c1).toEqual({ type: 'result', id: 'c1', code: '2.05', ct: 50, payload: { on: true } });
    expect(byId.c2).toEqual({ type: 'result', id: 'c2', code: '2.05', ct: 42, payload: 'AAEC', encoding: 'base64' });
    expect(byId.c3).toEqual({ type: 'result', id: 'c3', code: '2.05', ct: 0, payload: 'hello' });
    expect(executed.map((cmd) => cmd.payload?.toString('hex'))).toEqual(
      expect.arrayContaining([
        Buffer.from('{"on":true}').toString('hex'),
        '000102',
        Buffer.from('hello').toString('hex'),
      ]),
    );
  });

  test('a repeated command id is answered from the first execution; an in-flight repeat is coalesced', async () => {
    let release: (r: CommandResult) => void = () => {};
    const slow: Execute = (command) => {
      executed.push(command);
      return new Promise((resolve) => (release = resolve));
    };
    const c = startConnector(slow);
    await waitFor(() => c.state() === 'online');
    const command = { type: 'command', id: 'dup', device: 'd1', method: 'GET', path: '/x' };
    hub.send(command);
    hub.send(command);
    await waitFor(() => executed.length === 1);
    release({ ok: true, code: '2.05', ct: 0, payload: Buffer.from('v1') });
    await waitFor(() => hub.results.length === 1);
    hub.send(command);
    await waitFor(() => hub.results.length === 2);
    expect(executed).toHaveLength(1);
    expect(hub.results[1]).toEqual(hub.results[0]);
  });

  test('an Executer error travels as result.error; a bad payload is bad_request without executing', async () => {
    const offline: Execute = async () => ({ ok: false, error: { code: 'device_offline', message: 'd1 is offline' } });
    const c = startConnector(offline);
    await waitFor(() => c.state() === 'online');
    hub.send({ type: 'command', id: 'a', device: 'd1', method: 'GET', path: '/x' });
    hub.send({
      type: 'command',
      id: 'b',
      device: 'd1',
      method: 'PUT',
      path: '/x',
      payload: 'not base64!',
      encoding: 'base64',
    });
    await waitFor(() => hub.results.length === 2);
    const byId = Object.fromEntries(hub.results.map((r) => [r.id, r]));
    expect(byId.a).toEqual({ type: 'result', id: 'a', error: { code: 'device_offline', message: 'd1 is offline' } });
    expect(byId.b).toMatchObject({ error: { code: 'bad_request' } });
  });

  test('an Executer that never answers still yields one timeout result', async () => {
    const c = startConnector(() => new Promise(() => {}));
    await waitFor(() => c.state() === 'online');
    hub.send({ type: 'command', id: 't', device: 'd1', method: 'GET', path: '/x', timeout: 50 });
    await waitFor(() => hub.results.length === 1, { timeoutMs: 15_000 });
    expect(hub.results[0]).toMatchObject({ id: 't', error: { code: 'timeout' } });
  });
});

describe('invalid frames', () => {
  test('each gets an error frame naming the problem, and the link stays up', async () => {
    const c = startConnector();
    await waitFor(() => c.state() === 'online');
    hub.sendRaw('{not json');
    hub.sendRaw(JSON.stringify({ type: 'launch' }));
    hub.sendRaw(JSON.stringify({ type: 'command', id: 'q', device: 'd1', method: 'BREW', path: '/x' }));
    hub.sendRaw(Buffer.from([1, 2, 3]), true);
    hub.sendRaw(JSON.stringify({ type: 'ack', seq: 0, pad: 'x'.repeat(1024 * 1024) }));
    hub.send({ type: 'challenge', nonce: 'n'.repeat(32), heartbeat: 1 });
    await waitFor(() => hub.errors.length === 6, { what: 'six error frames' });
    expect(hub.errors.map((e) => e.code)).toEqual([
      'invalid_json',
      'unknown_type',
      'invalid_frame',
      'binary_frame',
      'frame_too_large',
      'unexpected_frame',
    ]);
    expect(hub.errors[2]).toMatchObject({ ref: 'q', message: expect.stringContaining('command.method') });
    emitTelemetry('dev1', 1);
    await waitFor(() => hub.taken.length === 1, { what: 'the link still carries telemetry' });
    expect(c.state()).toBe('online');
    expect(hub.connections).toBe(1);
  });
});

test('a hub that stops answering pings is dropped and reconnected', async () => {
  hub = await replaceHub({ secrets: { [GATEWAY]: SECRET }, heartbeat: 0.1 });
  const c = startConnector();
  await waitFor(() => c.state() === 'online');
  const [socket] = hub.sockets;
  // Stop reading: pings go unanswered, as on a path that died without a FIN.
  (socket as unknown as { _socket: { pause(): void } })._socket.pause();
  await waitFor(() => hub.connections === 2 && c.state() === 'online', { what: 'a new session' });
});

/** Runs `produce` while a connector records into the outbox with no hub to reach, then restarts the store. */
async function recordOffline(produce: () => void): Promise<void> {
  const c = startConnector(echo, platformConfig('ws://127.0.0.1:1/unreachable'));
  produce();
  await c.stop();
  store.close();
  store = new Store({ file: path.join(dir, 'gw.db') });
}

function newDevice(ep: string) {
  return { ep, d: null, host: '127.0.0.1', port: 5683, source: 'registration' as const };
}

async function replaceHub(options: HubPeerOptions): Promise<HubPeer> {
  await hub.close();
  return HubPeer.start(options);
}
