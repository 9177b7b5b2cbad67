import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandFrame } from '../../connector/protocol/index.js';
import { waitFor } from '../helpers/wait.js';
import { api, device, FakeGateway, startHub, type RunningHub } from './harness.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(dir?: string): Promise<{ hub: RunningHub; gateway: FakeGateway }> {
  const hub = await startHub(dir === undefined ? {} : { dir });
  cleanup.push(() => hub.stop());
  const gateway = await FakeGateway.connect(hub.port);
  cleanup.push(() => gateway.close());
  gateway.send({ type: 'snapshot', devices: [device('k3m9xq2a', { status: 'asleep', sleepy: true })] });
  await waitFor(async () => (await api(hub.base, 'GET', '/v1/devices/k3m9xq2a')).status === 200);
  return { hub, gateway };
}

let seq = 0;
function status(gateway: FakeGateway, frame: CommandFrame, moved: string, result?: unknown): void {
  gateway.send({
    type: 'command_status',
    seq: ++seq,
    id: frame.id,
    device: frame.device,
    method: frame.method,
    path: frame.path,
    status: moved,
    ...(result !== undefined && { result }),
    expiresAt: Date.now() + 60_000,
    ts: Date.now() + seq,
  });
}

const body = { method: 'PUT', path: '/3/0/14', payload: '+01:00', queue: true, ttl: 60 };

describe('hub: queued commands', () => {
  it('answers 202 once the gateway holds the command, then follows it to done', async () => {
    const { hub, gateway } = await setup();
    const reply = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', body);
    const frame = await gateway.next('command');
    expect(frame).toMatchObject({ queue: true, ttl: 60, method: 'PUT', path: '/3/0/14', payload: '+01:00' });
    status(gateway, frame, 'queued');
    expect(await reply).toMatchObject({
      status: 202,
      body: { id: frame.id, device: 'k3m9xq2a', gateway: 'gw-1', status: 'queued' },
    });
    expect((await api(hub.base, 'GET', '/v1/devices/k3m9xq2a/commands')).body.commands).toHaveLength(1);

    status(gateway, frame, 'sent');
    status(gateway, frame, 'done', { code: '2.04', ct: null, payload: '' });
    await waitFor(async () => (await api(hub.base, 'GET', `/v1/commands/${frame.id}`)).body.status === 'done');
    expect((await api(hub.base, 'GET', `/v1/commands/${frame.id}`)).body).toMatchObject({ result: { code: '2.04' } });
    expect((await api(hub.base, 'GET', '/v1/devices/k3m9xq2a/commands')).body.commands).toEqual([]);
    expect((await api(hub.base, 'GET', '/v1/devices/k3m9xq2a/commands?all=1')).body.commands).toHaveLength(1);
  });

  it('takes ?queue=1 too, and maps the gateway refusals to 429 and 507', async () => {
    const { hub, gateway } = await setup();
    const { queue: _queue, ...plain } = body;
    const full = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send?queue=1', plain);
    const first = await gateway.next('command');
    expect(first.queue).toBe(true);
    gateway.send({ type: 'result', id: first.id, error: { code: 'device_queue_full', message: '100 waiting' } });
    expect(await full).toMatchObject({ status: 429, body: { error: { code: 'device_queue_full' } } });
    const total = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', body);
    const second = await gateway.next('command');
    gateway.send({ type: 'result', id: second.id, error: { code: 'queue_full', message: '10000 waiting' } });
    expect(await total).toMatchObject({ status: 507, body: { error: { code: 'queue_full' } } });
  });

  it('cancels through the gateway: 200 cancelled, 409 once finished, 404 for what nobody holds', async () => {
    const { hub, gateway } = await setup();
    const reply = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', body);
    const frame = await gateway.next('command');
    status(gateway, frame, 'queued');
    await reply;
    const cancelled = api(hub.base, 'DELETE', `/v1/commands/${frame.id}`);
    expect(await gateway.next('cancel')).toEqual({ type: 'cancel', id: frame.id });
    status(gateway, frame, 'cancelled', { error: { code: 'bad_request', message: 'cancelled by the platform' } });
    expect(await cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    // Cancelling again is idempotent; a finished command cannot be cancelled.
    expect((await api(hub.base, 'DELETE', `/v1/commands/${frame.id}`)).status).toBe(200);
    const second = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', body);
    const done = await gateway.next('command');
    status(gateway, done, 'queued');
    await second;
    status(gateway, done, 'done', { code: '2.04', ct: null, payload: '' });
    await waitFor(async () => (await api(hub.base, 'GET', `/v1/commands/${done.id}`)).body.status === 'done');
    expect(await api(hub.base, 'DELETE', `/v1/commands/${done.id}`)).toMatchObject({
      status: 409,
      body: { error: { code: 'not_cancellable' } },
    });
    expect((await api(hub.base, 'GET', '/v1/commands/nope')).status).toBe(404);
  });

  it('keeps command statuses across a hub restart, and says 503 when the gateway is not connected', async () => {
    const { hub, gateway } = await setup();
    const reply = api(hub.base, 'POST', '/v1/devices/k3m9xq2a/send', body);
    const frame = await gateway.next('command');
    status(gateway, frame, 'queued');
    await reply;
    await gateway.acked(seq);
    gateway.close();
    await hub.stop();
    const again = await startHub({ dir: hub.dir });
    cleanup.push(() => again.stop());
    cleanup.push(() => fs.rmSync(hub.dir, { recursive: true, force: true }));
    expect((await api(again.base, 'GET', `/v1/commands/${frame.id}`)).body).toMatchObject({ status: 'queued' });
    expect((await api(again.base, 'POST', '/v1/devices/k3m9xq2a/send', body)).status).toBe(503);
  });
});
