import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SLOW_SUBSCRIBER_CLOSE } from '../../connector/hub/index.js';
import { waitFor } from '../helpers/wait.js';
import {
  API_KEY,
  FakeGateway,
  api,
  device,
  eventsOf,
  openClient,
  startHub,
  subscribe,
  type Client,
  type RunningHub,
} from './harness.js';

let hub: RunningHub;
const sockets: WebSocket[] = [];

beforeEach(async () => {
  hub = await startHub({ tuning: { maxSubscriberBufferedBytes: 64 * 1024, infoIntervalMs: 50 } });
});
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await hub.stop();
});

async function connect(route: string): Promise<Client> {
  const client = await openClient(hub.port, route);
  sockets.push(client.ws);
  return client;
}

describe('/subscribe', () => {
  it('delivers gateway events and telemetry by pattern', async () => {
    const all = await connect(`/subscribe?clientName=all&apiKey=${API_KEY}`);
    const one = await connect(`/subscribe?clientName=one&apiKey=${API_KEY}`);
    const devices = await connect(`/subscribe?clientName=devices&apiKey=${API_KEY}`);
    await subscribe(all, 'telemetry');
    await subscribe(one, 'telemetry/d2');
    await subscribe(devices, 'device.*');
    const gateway = await FakeGateway.connect(hub.port);
    gateway.send({ type: 'event', seq: 1, name: 'device.registered', device: device('d1'), ts: 1 });
    gateway.send({ type: 'telemetry', seq: 2, device: 'd1', path: '/temp', ct: 50, value: 1, ts: 2 });
    gateway.send({ type: 'telemetry', seq: 3, device: 'd2', path: '/temp', ct: 50, value: 2, ts: 3 });
    await waitFor(() => eventsOf(all).length === 2 && eventsOf(one).length === 1 && eventsOf(devices).length === 1);
    gateway.close();
    expect(eventsOf(all)).toEqual(['telemetry/d1', 'telemetry/d2']);
    expect(one.messages.at(-1)).toMatchObject({
      event: 'telemetry/d2',
      data: { gateway: 'gw-1', device: 'd2', path: '/temp', ct: 50, value: 2, ts: 3 },
    });
    expect(devices.messages.at(-1)).toMatchObject({
      event: 'device.registered',
      data: { gateway: 'gw-1', device: { id: 'd1' } },
    });
  });

  it('delivers what clients publish, until they unsubscribe', async () => {
    const client = await connect(`/subscribe?clientName=c1&apiKey=${API_KEY}`);
    await subscribe(client, 'alarms');
    const published = await api(hub.base, 'POST', '/publish?clientName=p1', { event: 'alarms', data: { level: 3 } });
    expect(published).toEqual({ status: 201, body: { status: 'published', event: 'alarms' } });
    await waitFor(() => eventsOf(client).length === 1);
    expect(client.messages.at(-1)).toMatchObject({ event: 'alarms', data: { level: 3 }, from: 'p1' });
    client.ws.send(JSON.stringify({ action: 'unsubscribe', event: 'alarms' }));
    await waitFor(() => client.messages.some((m) => m.action === 'unsubscribed'));
    await api(hub.base, 'POST', '/publish?clientName=p1', { event: 'alarms', data: 4 });
    await api(hub.base, 'POST', '/publish?clientName=p1', { event: 'other', data: 5 });
    // The hub handles a client's messages in order: once this answer is back, an alarm would have arrived before it.
    await subscribe(client, 'sync');
    expect(eventsOf(client)).toEqual(['alarms']);
  });

  it('answers a malformed action with an error and keeps the subscriber', async () => {
    const client = await connect(`/subscribe?clientName=c1&apiKey=${API_KEY}`);
    client.ws.send('{"action":"listen"}');
    await waitFor(() => client.messages.some((m) => m.error?.code === 'bad_request'));
    await subscribe(client, 'x');
  });

  it('refuses a subscriber without a valid key (401) or a clientName (400)', async () => {
    const refused = (route: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${hub.port}${route}`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    expect(await refused('/subscribe?clientName=x')).toBe(401);
    expect(await refused('/subscribe?clientName=x&apiKey=wrong')).toBe(401);
    expect(await refused(`/subscribe?apiKey=${API_KEY}`)).toBe(400);
    expect(await refused(`/nowhere?apiKey=${API_KEY}`)).toBe(404);
  });

  it('disconnects a subscriber that does not read, with a reason', async () => {
    const slow = await connect(`/subscribe?clientName=slow&apiKey=${API_KEY}`);
    const info = await connect(`/socket/info?apiKey=${API_KEY}`);
    await subscribe(slow, 'bulk');
    slow.ws.pause();
    const chunk = 'x'.repeat(256 * 1024);
    const connected = () => info.messages.at(-1)?.clients.some((c: { clientName: string }) => c.clientName === 'slow');
    for (let i = 0; i < 400 && connected() !== false; i++) {
      await api(hub.base, 'POST', '/publish?clientName=p', { event: 'bulk', data: chunk });
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await waitFor(() => connected() === false, { what: 'the hub to drop the slow subscriber' });
    slow.ws.resume();
    const closed = await waitFor(() => slow.closed, { what: 'the close frame' });
    expect(closed.code).toBe(SLOW_SUBSCRIBER_CLOSE);
    expect(closed.reason).toContain('slow subscriber');
  });

  it('answers POST /publish with 400 on a bad body and 401 on a bad key', async () => {
    expect((await api(hub.base, 'POST', '/publish?clientName=p', { data: 1 })).body.error.message).toContain('event');
    expect((await api(hub.base, 'POST', '/publish', { event: 'e' })).body.error.message).toContain('clientName');
    expect((await api(hub.base, 'POST', '/publish?clientName=p', { event: 'e' }, { 'x-api-key': 'no' })).status).toBe(
      401,
    );
  });
});

describe('/socket/info', () => {
  it('pushes gateways, clients with their subscriptions, and webhooks, again and again', async () => {
    const info = await connect(`/socket/info?apiKey=${API_KEY}`);
    await waitFor(() => info.messages.length >= 1);
    expect(info.messages[0]).toMatchObject({ type: 'info', gateways: [], clients: [], webhooks: [] });
    const client = await connect(`/subscribe?clientName=watcher&apiKey=${API_KEY}`);
    await subscribe(client, 'device.*');
    const gateway = await FakeGateway.connect(hub.port);
    const latest = await waitFor(() => {
      const last = info.messages.at(-1);
      return last.gateways.length === 1 && last.clients.length === 1 ? last : undefined;
    });
    gateway.close();
    expect(latest.gateways[0]).toMatchObject({ id: 'gw-1', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(Date.parse(latest.gateways[0].connected_at)).not.toBeNaN();
    expect(latest.clients[0]).toMatchObject({ clientName: 'watcher', subscriptions: ['device.*'] });
  });
});
