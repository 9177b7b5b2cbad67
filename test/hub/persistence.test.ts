import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { FakeGateway, GATEWAY_ID, api, device, startHub, type RunningHub } from './harness.js';

let hub: RunningHub | undefined;
let gateway: FakeGateway | undefined;
afterEach(async () => {
  gateway?.close();
  await hub?.stop();
});

it('answers GET /v1/devices and knows the last seq after a restart', async () => {
  hub = await startHub();
  gateway = await FakeGateway.connect(hub.port);
  gateway.send({ type: 'snapshot', devices: [device('d1'), device('d2')] });
  gateway.send({ type: 'event', seq: 3, name: 'device.offline', device: device('d2', { status: 'offline' }), ts: 9 });
  gateway.send({ type: 'telemetry', seq: 4, device: 'd1', path: '/temp', ct: 50, value: 20, ts: 123_456 });
  await gateway.acked(4);
  gateway.close();
  await hub.stop();

  hub = await startHub({ dir: hub.dir });
  const { status, body } = await api(hub.base, 'GET', '/v1/devices');
  expect(status).toBe(200);
  const byId = Object.fromEntries(body.devices.map((d: { id: string }) => [d.id, d]));
  expect(byId.d1).toMatchObject({ gateway: GATEWAY_ID, status: 'online', lastSeen: 123_456, gatewayConnected: false });
  expect(byId.d2).toMatchObject({ status: 'offline' });
  gateway = await FakeGateway.connect(hub.port);
  expect((gateway as FakeGateway & { lastSeq: number }).lastSeq).toBe(4);
});

it('what an ack covers is in the database when the ack arrives, before any stop', async () => {
  hub = await startHub();
  gateway = await FakeGateway.connect(hub.port);
  // Several events for one device in one turn: the last one is what the row holds.
  gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 1 });
  gateway.send({ type: 'event', seq: 2, name: 'device.offline', device: device('d1', { status: 'offline' }), ts: 2 });
  gateway.send({ type: 'event', seq: 3, name: 'device.registered', device: device('d2'), ts: 3 });
  gateway.send({ type: 'event', seq: 4, name: 'device.removed', device: device('d2'), reason: 'deleted', ts: 4 });
  gateway.send({ type: 'telemetry', seq: 5, device: 'd1', path: '/temp', ct: 50, value: 20, ts: 123_456 });
  await gateway.acked(5);
  // Another connection sees only what was committed.
  const db = new Database(path.join(hub.dir, 'hub.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id, info, last_seen FROM devices').all() as {
      id: string;
      info: string;
      last_seen: number;
    }[];
    expect(rows.map((row) => ({ id: row.id, status: JSON.parse(row.info).status, lastSeen: row.last_seen }))).toEqual([
      { id: 'd1', status: 'offline', lastSeen: 123_456 },
    ]);
    expect(JSON.parse(rows[0]!.info).resources).toEqual(device('d1').resources);
    expect(db.prepare('SELECT last_seq FROM gateways').pluck().get()).toBe(5);
  } finally {
    db.close();
  }
});
