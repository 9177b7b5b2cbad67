import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeCodes, hmacOf, MAX_FRAME_BYTES } from '../../connector/protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { FakeGateway, GATEWAY_ID, GATEWAY_SECRET, api, device, startHub, type RunningHub } from './harness.js';

let hub: RunningHub;
const gateways: FakeGateway[] = [];
const track = <G extends FakeGateway>(gateway: G): G => (gateways.push(gateway), gateway);

beforeEach(async () => {
  hub = await startHub({ tuning: { handshakeTimeoutMs: 300 } });
});
afterEach(async () => {
  for (const gateway of gateways.splice(0)) gateway.close();
  await hub.stop();
});

describe('handshake', () => {
  it('challenges, checks the HMAC of the nonce and welcomes with the last seq', async () => {
    const gateway = track(await FakeGateway.open(hub.port));
    const challenge = await gateway.next('challenge');
    expect(challenge.nonce.length).toBeGreaterThanOrEqual(16);
    expect(challenge.heartbeat).toBe(hub.config.heartbeatSeconds);
    gateway.send({ type: 'hello', gateway: GATEWAY_ID, hmac: hmacOf(challenge.nonce, GATEWAY_SECRET) });
    expect(await gateway.next('welcome')).toEqual({ type: 'welcome', lastSeq: 0 });
  });

  it('accepts gateways on / as well, so a bare ws://host:port URL works', async () => {
    const gateway = track(await FakeGateway.open(hub.port, '/'));
    expect(await gateway.handshake(GATEWAY_ID, GATEWAY_SECRET)).toBe(0);
  });

  it('closes a wrong secret with badCredentials and says why', async () => {
    const gateway = track(await FakeGateway.open(hub.port));
    await gateway.hello(GATEWAY_ID, 'not-the-secret');
    expect(await gateway.waitClosed()).toEqual({
      code: closeCodes.badCredentials,
      reason: `wrong HMAC for gateway "${GATEWAY_ID}"`,
    });
  });

  it('closes an unknown gateway id with badCredentials', async () => {
    const gateway = track(await FakeGateway.open(hub.port));
    await gateway.hello('stranger', GATEWAY_SECRET);
    expect(await gateway.waitClosed()).toEqual({
      code: closeCodes.badCredentials,
      reason: 'unknown gateway "stranger"',
    });
  });

  it('accepts a gateway added at run time', async () => {
    hub.hub.addGateway('gw-late', 'late-secret');
    const gateway = track(await FakeGateway.connect(hub.port, 'gw-late', 'late-secret'));
    expect(gateway.lastSeq).toBe(0);
  });

  it('closes a link whose first frame is not hello, and one that never says hello', async () => {
    const eager = track(await FakeGateway.open(hub.port));
    eager.send({ type: 'snapshot', devices: [] });
    expect((await eager.waitClosed()).code).toBe(closeCodes.protocolError);
    const silent = track(await FakeGateway.open(hub.port));
    expect((await silent.waitClosed()).code).toBe(closeCodes.handshakeTimeout);
  });

  it('replaces an older session of the same gateway id', async () => {
    const older = track(await FakeGateway.connect(hub.port));
    const newer = track(await FakeGateway.connect(hub.port));
    expect(await older.waitClosed()).toEqual({
      code: closeCodes.replaced,
      reason: 'replaced by a newer session of the same gateway',
    });
    newer.send({ type: 'snapshot', devices: [device('d1')] });
    await waitFor(async () => (await api(hub.base, 'GET', '/v1/devices/d1')).status === 200);
    expect(newer.closed).toBeUndefined();
  });
});

describe('upstream', () => {
  it('acks cumulatively, applies each seq once and drops resent ones', async () => {
    const gateway = track(await FakeGateway.connect(hub.port));
    gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 2_000 });
    gateway.send({
      type: 'event',
      seq: 2,
      name: 'device.offline',
      device: device('d1', { status: 'offline' }),
      ts: 2_001,
    });
    await gateway.acked(2);
    // A resend of seq 1 (as after a reconnect) must not bring the device back online.
    gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 2_000 });
    gateway.send({ type: 'telemetry', seq: 3, device: 'd1', path: '/temp', ct: 50, value: 21.5, ts: 5_000 });
    await gateway.acked(3);
    const { body } = await api(hub.base, 'GET', '/v1/devices/d1');
    expect(body).toMatchObject({
      id: 'd1',
      gateway: GATEWAY_ID,
      status: 'offline',
      lastSeen: 5_000,
      gatewayConnected: true,
    });
    const acks = gateway.frames.filter((frame) => frame.type === 'ack').map((frame) => frame.seq);
    expect(acks).toEqual([...acks].sort((a, b) => a - b));
    expect(acks.at(-1)).toBe(3);
  });

  it('welcomes a reconnecting gateway with the last seq it took', async () => {
    const first = track(await FakeGateway.connect(hub.port));
    first.send({ type: 'event', seq: 7, name: 'device.registered', device: device('d1'), ts: 1 });
    await first.acked(7);
    first.close();
    const again = track(await FakeGateway.connect(hub.port));
    expect(again.lastSeq).toBe(7);
  });

  it('answers an invalid frame with an error frame and keeps the link', async () => {
    const gateway = track(await FakeGateway.connect(hub.port));
    gateway.send({ type: 'telemetry', seq: 'x' });
    gateway.ws.send('not json');
    expect(await gateway.next('error')).toMatchObject({ code: 'invalid_frame', ref: 'telemetry' });
    expect(await gateway.next('error')).toMatchObject({ code: 'invalid_json' });
    gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 1 });
    await gateway.acked(1);
    expect(gateway.closed).toBeUndefined();
  });

  it('lets a snapshot replace the gateway devices, and keeps events it already reflects as history', async () => {
    const gateway = track(await FakeGateway.connect(hub.port));
    gateway.send({ type: 'snapshot', devices: [device('d1'), device('d2')] });
    gateway.send({ type: 'snapshot', seq: 5, devices: [device('d2', { status: 'offline' })] });
    // seq 4 predates the snapshot: it must not resurrect d1.
    gateway.send({ type: 'event', seq: 4, name: 'device.registered', device: device('d1'), ts: 1 });
    await gateway.acked(4);
    const { body } = await api(hub.base, 'GET', '/v1/devices');
    expect(body.devices.map((d: { id: string; status: string }) => [d.id, d.status])).toEqual([['d2', 'offline']]);
  });
});

describe('liveness and limits', () => {
  it('drops a link that stops answering pings', async () => {
    const quick = await startHub({ hub: { heartbeatSeconds: 0.2 } });
    const deaf = await FakeGateway.open(quick.port, '/v1/gateway', { autoPong: false });
    try {
      await deaf.handshake(GATEWAY_ID, GATEWAY_SECRET);
      expect((await deaf.waitClosed()).code).toBe(1006);
    } finally {
      deaf.close();
      await quick.stop();
    }
  });

  it('answers an oversized frame with frame_too_large and keeps the link', async () => {
    const gateway = track(await FakeGateway.connect(hub.port));
    gateway.send({ type: 'snapshot', devices: [], padding: 'x'.repeat(MAX_FRAME_BYTES) });
    expect(await gateway.next('error')).toMatchObject({ code: 'frame_too_large' });
    gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 1 });
    await gateway.acked(1);
  });
});
