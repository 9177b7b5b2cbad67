import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayProcess } from '../helpers/gateway-process.js';
import { waitFor } from '../helpers/wait.js';
import { register } from '../rd/fixture.js';
import { TestClient } from '../rd/udp-client.js';

/**
 * The real `coregate start` with its embedded hub: a registration update that only refreshes the lifetime
 * (RFC 9176 §5.3.1, no parameters, from the same address) reaches the hub as a `refresh` frame (docs/protocol.md):
 * the hub's lastSeen and expiry move, and no `device.updated` event is published; any other update still is one.
 */

interface Pushed {
  event: string;
  data: { device: { id: string; registration: { lt: number } | null } };
}

let gateway: GatewayProcess;
let device: TestClient;
let subscriber: WebSocket;
const pushed: Pushed[] = [];

beforeAll(async () => {
  gateway = await GatewayProcess.start({ prefix: 'coregate-refresh-' });
  subscriber = new WebSocket(`ws://127.0.0.1:${gateway.hubPort}/subscribe?clientName=refresh&apiKey=coregate-dev-key`);
  let subscriptions = 0;
  const subscribed = new Promise<void>((resolve) =>
    subscriber.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as Pushed & { action?: string };
      if (message.action === 'subscribed') {
        if (++subscriptions === 2) resolve();
      } else if (message.event !== undefined) pushed.push(message);
    }),
  );
  subscriber.on('open', () => {
    for (const event of ['device.registered', 'device.updated'])
      subscriber.send(JSON.stringify({ action: 'subscribe', event }));
  });
  await subscribed;
  device = new TestClient('127.0.0.1', gateway.rdPort);
});

afterAll(async () => {
  subscriber?.terminate();
  device?.close();
  await gateway?.stop();
});

describe('a lifetime refresh', () => {
  it('moves lastSeen and the expiry at the hub without a device.updated event; a change of lt still is one', async () => {
    const id = await register(device, 'ep=refresher&lt=100');
    const registered = await gateway.waitForDevice(
      'refresher',
      (d) => d.status === 'online',
      'the registration at the hub',
    );
    const before = registered.registration!;

    expect((await device.request({ method: 'POST', uri: `/rd/${id}` })).code).toBe('2.04');
    const refreshed = await gateway.waitForDevice(
      'refresher',
      (d) => d.registration!.expiresAt > before.expiresAt,
      'the refreshed expiry at the hub',
    );
    const after = refreshed.registration!;
    expect(after.lt).toBe(100);
    expect(after.expiresAt).toBe(after.updatedAt + 100_000);
    expect(refreshed.lastSeen).toBe(after.updatedAt);
    // The activity log's line reaches this process through a pipe, apart from the hub's HTTP reply: waited for.
    expect(
      await gateway.waitForLog({ event: 'device.updated', device: id }, 'the refresh in the activity log'),
    ).toHaveLength(1);

    // A new lifetime is a change: its device.updated event follows everything published before it on the one
    // subscriber socket, so once it is in, a device.updated for the refresh would have been too.
    expect((await device.request({ method: 'POST', uri: `/rd/${id}?lt=200` })).code).toBe('2.04');
    await waitFor(() => pushed.some((p) => p.event === 'device.updated'), { what: 'the device.updated of lt=200' });
    expect(pushed.filter((p) => p.data.device.id === id).map((p) => [p.event, p.data.device.registration?.lt])).toEqual(
      [
        ['device.registered', 100],
        ['device.updated', 200],
      ],
    );
  });
});
