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
