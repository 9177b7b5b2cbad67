import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connector } from '../../connector/index.js';
import { MAX_FRAME_BYTES } from '../../connector/protocol/index.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGateway, GATEWAY_ID, GATEWAY_SECRET, api, device, startHub, type RunningHub } from './harness.js';

let hub: RunningHub;
beforeEach(async () => {
  hub = await startHub();
});
afterEach(async () => {
  await hub.stop();
});

const hubDeviceCount = (): number => {
  const db = new Database(path.join(hub.dir, 'hub.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM devices').pluck().get() as number;
  } finally {
    db.close();
  }
};

describe('a snapshot of any size reaches the hub', () => {
  it('100,000 devices (over 16 times the frame limit) arrive in parts and all show', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-snapshot-'));
    const store = new Store({ file: path.join(dir, 'gw.db') });
    const count = 100_000;
    store.write(() => {
      for (let i = 0; i < count; i++) {
        store.devices.create({ ep: `sensor-${i}`, d: 'building-7', source: 'registration', host: '10.0.0.1', port: i });
      }
    });
    const bytes = store.devices.list().reduce((sum, d) => sum + JSON.stringify(store.info(d)).length, 0);
    expect(bytes).toBeGreaterThan(16 * MAX_FRAME_BYTES);
    const config = parseConfig({
      platform: { url: `ws://127.0.0.1:${hub.port}/v1/gateway`, gatewayId: GATEWAY_ID, secret: GATEWAY_SECRET },
    }).platform;
    const connector = new Connector({
      store,
      bus: new EventBus(),
      log: silentLogger(),
      config,
      execute: () => Promise.resolve({ ok: false, error: { code: 'bad_request', message: 'none here' } }),
    });
    try {
      await connector.start();
      const last = store.devices.list().at(-1)!.id;
      // The hub is this process: while it takes the snapshot in, a poll may find its keep-alive socket closed.
      const found = async (): Promise<boolean> =>
        (await api(hub.base, 'GET', `/v1/devices/${last}`).catch(() => undefined))?.status === 200;
      await waitFor(found, {
        timeoutMs: 60_000,
        what: 'the last device of the snapshot at the hub',
      });
      expect(hubDeviceCount()).toBe(count);
    } finally {
      await connector.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("the hub's view changes only when the last part is in", async () => {
    const gateway = await FakeGateway.connect(hub.port);
    try {
      gateway.send({ type: 'snapshot', seq: 0, part: 0, more: false, devices: [device('old')] });
      gateway.send({ type: 'telemetry', seq: 1, device: 'old', path: '/t', ct: 50, value: 1, ts: 1 });
      await gateway.acked(1);
      gateway.send({ type: 'snapshot', seq: 1, part: 0, more: true, devices: [device('a')] });
      gateway.send({ type: 'snapshot', seq: 1, part: 1, more: true, devices: [device('b')] });
      gateway.send({ type: 'telemetry', seq: 2, device: 'old', path: '/t', ct: 50, value: 2, ts: 2 });
      await gateway.acked(2);
      // Two parts in: the hub still shows the previous snapshot, whole.
      const before = await api(hub.base, 'GET', '/v1/devices');
      expect(before.body.devices.map((d: { id: string }) => d.id)).toEqual(['old']);
      gateway.send({ type: 'snapshot', seq: 1, part: 2, more: false, devices: [device('c')] });
      gateway.send({ type: 'telemetry', seq: 3, device: 'a', path: '/t', ct: 50, value: 3, ts: 3 });
      await gateway.acked(3);
      const after = await api(hub.base, 'GET', '/v1/devices');
      expect(after.body.devices.map((d: { id: string }) => d.id).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      gateway.close();
    }
  });

  it('a part out of order is refused and changes nothing', async () => {
    const gateway = await FakeGateway.connect(hub.port);
    try {
      gateway.send({ type: 'snapshot', seq: 0, part: 1, more: false, devices: [device('stray')] });
      const error = await gateway.next('error');
      expect(error).toMatchObject({ code: 'unexpected_frame', message: 'snapshot part 1 out of order' });
      expect((await api(hub.base, 'GET', '/v1/devices/stray')).status).toBe(404);
    } finally {
      gateway.close();
    }
  });
});
