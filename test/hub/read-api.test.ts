import { afterEach, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { api, device, FakeGateway, GATEWAY_ID, startHub, type RunningHub } from './harness.js';

let hub: RunningHub | undefined;
let gateway: FakeGateway | undefined;
afterEach(async () => {
  gateway?.close();
  await hub?.stop();
  hub = gateway = undefined;
});

it('GET /v1/gateways shows each gateway, its link and since when, its last seq and its devices', async () => {
  hub = await startHub({ hub: { gateways: { [GATEWAY_ID]: 'gw-1-secret', 'gw-idle': 'x' } } });
  const before = await api(hub.base, 'GET', '/v1/gateways');
  expect(before.status).toBe(200);
  expect(before.body.gateways).toEqual([
    { id: 'gw-1', connected: false, address: null, since: null, lastSeq: 0, devices: 0, received: 0, duplicates: 0 },
    { id: 'gw-idle', connected: false, address: null, since: null, lastSeq: 0, devices: 0, received: 0, duplicates: 0 },
  ]);
  const connectedAt = Date.now();
  gateway = await FakeGateway.connect(hub.port);
  gateway.send({ type: 'snapshot', devices: [device('dev1'), device('dev2')] });
  gateway.send({ type: 'event', seq: 1, name: 'device.online', device: device('dev1'), ts: 5_000 });
  await gateway.acked(1);
  const up = await api(hub.base, 'GET', '/v1/gateways');
  expect(up.body.gateways[0]).toMatchObject({ id: 'gw-1', connected: true, lastSeq: 1, devices: 2, received: 1 });
  expect(up.body.gateways[0].address).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(up.body.gateways[0].since).toBeGreaterThanOrEqual(connectedAt - 1000);

  gateway.close();
  const down = await waitFor(async () => {
    const reply = await api(hub!.base, 'GET', '/v1/gateways');
    return reply.body.gateways[0].connected ? undefined : reply.body.gateways[0];
  });
  expect(down).toMatchObject({ connected: false, address: null, lastSeq: 1, devices: 2 });
  expect(down.since).toBeGreaterThanOrEqual(up.body.gateways[0].since);
  expect((await api(hub.base, 'GET', '/v1/gateways', undefined, { 'x-api-key': 'wrong' })).status).toBe(401);
});

it('GET /v1/devices/:id/history gives the device events and, per path, the latest value and its numeric points', async () => {
  hub = await startHub({
    tuning: { history: { eventsPerDevice: 3, pointsPerSeries: 4, pathsPerDevice: 3, maxSeries: 2 } },
  });
  gateway = await FakeGateway.connect(hub.port);
  gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('dev1'), ts: 1_000 });
  gateway.send({
    type: 'event',
    seq: 2,
    name: 'device.offline',
    device: device('dev1', { status: 'offline' }),
    ts: 2_000,
  });
  gateway.send({ type: 'event', seq: 3, name: 'device.online', device: device('dev1'), ts: 3_000 });
  gateway.send({ type: 'event', seq: 4, name: 'device.updated', device: device('dev1'), ts: 4_000 });
  let seq = 5;
  for (let i = 0; i < 6; i++) {
    gateway.send({
      type: 'telemetry',
      seq: seq++,
      device: 'dev1',
      path: '/temp',
      ct: 50,
      value: 20 + i,
      ts: 10_000 + i,
    });
  }
  const pack = [{ n: 'humidity', u: '%RH', v: 45 }];
  gateway.send({ type: 'telemetry', seq: seq++, device: 'dev1', path: '/hum', ct: 110, value: pack, ts: 10_500 });
  gateway.send({
    type: 'telemetry',
    seq: seq++,
    device: 'dev1',
    path: '/led',
    ct: 50,
    value: { on: true },
    ts: 11_000,
  });
  gateway.send({ type: 'telemetry', seq: seq++, device: 'dev1', path: '/name', ct: 0, value: 'x', ts: 12_000 });
  await gateway.acked(seq - 1);

  const reply = await api(hub.base, 'GET', '/v1/devices/dev1/history');
  expect(reply.status).toBe(200);
  expect(reply.body).toEqual({
    device: 'dev1',
    events: [
      { event: 'device.offline', ts: 2_000, status: 'offline' },
      { event: 'device.online', ts: 3_000, status: 'online' },
      { event: 'device.updated', ts: 4_000, status: 'online' },
    ],
    telemetry: [
      {
        path: '/temp',
        ct: 50,
        value: 25,
        ts: 10_005,
        points: [
          [10_002, 22],
          [10_003, 23],
          [10_004, 24],
          [10_005, 25],
        ],
      },
      // A SenML pack charts its first record's value (RFC 8428 §4.2).
      { path: '/hum', ct: 110, value: [{ n: 'humidity', u: '%RH', v: 45 }], ts: 10_500, points: [[10_500, 45]] },
      // {on: true} has no number to chart; a fourth path is beyond pathsPerDevice.
      { path: '/led', ct: 50, value: { on: true }, ts: 11_000, points: [] },
    ],
  });
  // Two series with points already (maxSeries: 2): another device's keeps its latest value only.
  gateway.send({ type: 'event', seq: seq++, name: 'device.registered', device: device('dev2'), ts: 13_000 });
  gateway.send({ type: 'telemetry', seq: seq++, device: 'dev2', path: '/temp', ct: 50, value: 7, ts: 13_001 });
  await gateway.acked(seq - 1);
  const other = await api(hub.base, 'GET', '/v1/devices/dev2/history');
  expect(other.body.telemetry).toEqual([{ path: '/temp', ct: 50, value: 7, ts: 13_001, points: [] }]);
  expect((await api(hub.base, 'GET', '/v1/devices/nosuch/history')).status).toBe(404);
});

it('GET /v1/webhooks lists each target with its delivery counts', async () => {
  hub = await startHub({ hub: { webhooks: [{ url: 'http://127.0.0.1:9/hook', events: ['device.*'] }] } });
  const reply = await api(hub.base, 'GET', '/v1/webhooks');
  expect(reply.status).toBe(200);
  expect(reply.body).toEqual({
    webhooks: [{ url: 'http://127.0.0.1:9/hook', delivered: 0, failures: 0, dropped: 0, pending: 0 }],
  });
});

it('serves the dashboard page and uPlot without a key, and no other file', async () => {
  hub = await startHub();
  const page = await fetch(`${hub.base}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await page.text();
  expect(html).not.toContain(hub.config.apiKey);
  const uplot = await fetch(`${hub.base}/vendor/uplot/uPlot.esm.js`);
  expect(uplot.status).toBe(200);
  expect(uplot.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  const etag = uplot.headers.get('etag')!;
  expect((await fetch(`${hub.base}/vendor/uplot/uPlot.esm.js`, { headers: { 'if-none-match': etag } })).status).toBe(
    304,
  );
  for (const probe of [
    '/dashboard/../hub.ts',
    '/dashboard/%2e%2e/hub.ts',
    '/vendor/uplot/package.json',
    '/index.html',
  ]) {
    expect((await fetch(`${hub.base}${probe}`)).status, probe).toBe(404);
  }
});
