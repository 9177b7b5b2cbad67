import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { PatternIndex, matches } from '../../connector/hub/patterns.js';
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

let hub: RunningHub | undefined;
const sockets: WebSocket[] = [];
const gateways: FakeGateway[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const gateway of gateways.splice(0)) gateway.close();
  await hub?.stop();
  hub = undefined;
});

async function client(name: string): Promise<Client> {
  const opened = await openClient(hub!.port, `/subscribe?clientName=${name}&apiKey=${API_KEY}`);
  sockets.push(opened.ws);
  return opened;
}

async function gateway(): Promise<FakeGateway> {
  const connected = await FakeGateway.connect(hub!.port);
  gateways.push(connected);
  return connected;
}

const telemetry = (seq: number, id = 'd1') =>
  ({ type: 'telemetry', seq, device: id, path: '/v', ct: 50, value: seq, ts: seq }) as const;

describe('subscription patterns', () => {
  it('a client may hold maxSubscriptionsPerClient patterns; one more is refused and not kept', async () => {
    hub = await startHub({ hub: { maxSubscriptionsPerClient: 3 } });
    const c = await client('greedy');
    await subscribe(c, 'a', 'b', 'c');
    c.ws.send(JSON.stringify({ action: 'subscribe', event: 'd' }));
    await waitFor(() => c.messages.some((m) => m.error?.code === 'too_many_subscriptions'));
    const error = c.messages.find((m) => m.error !== undefined);
    expect(error).toEqual({
      error: {
        code: 'too_many_subscriptions',
        message: 'at most 3 subscriptions per client; unsubscribe from one first',
      },
      event: 'd',
    });
    // Subscribing again to one it holds is no new pattern; after an unsubscribe there is room.
    await subscribe(c, 'a');
    c.ws.send(JSON.stringify({ action: 'unsubscribe', event: 'a' }));
    await subscribe(c, 'd');
  });

  it('the index finds exactly what testing every pattern finds, by looking up the name, not the patterns', () => {
    const patterns = [
      '*',
      'telemetry',
      'telemetry/d1',
      'telemetry/d1/x',
      'device.*',
      'dev*',
      'gateway.connected',
      'a/b*',
    ];
    const index = new PatternIndex<string>();
    for (const pattern of patterns) index.add(pattern, pattern);
    // 100,000 patterns that match nothing below: they cost the lookup nothing.
    for (let i = 0; i < 100_000; i++) index.add(`other/${i}`, `other/${i}`);
    const names = [
      'telemetry/d1',
      'telemetry/d1/x/y',
      'telemetry',
      'device.offline',
      'dev',
      'gateway.connected',
      'a/bc',
      'x',
    ];
    for (const name of names) {
      const expected = patterns.filter((pattern) => matches(pattern, name)).sort();
      expect([...index.match(name)].sort(), name).toEqual(expected);
    }
    index.delete('*', '*');
    index.delete('dev*', 'dev*');
    expect([...index.match('dev')]).toEqual([]);
  });
});

describe("the hub's own event names", () => {
  it('POST /publish of telemetry, device.* or gateway.* is 403; subscribers see only what gateways sent', async () => {
    hub = await startHub();
    const watch = await client('watch');
    await subscribe(watch, '*');
    for (const event of ['telemetry/d1', 'telemetry', 'device.offline', 'gateway.connected']) {
      const reply = await api(hub.base, 'POST', '/publish?clientName=forger', { event, data: { value: 666 } });
      expect(reply.status, event).toBe(403);
      expect(reply.body.error.code).toBe('forbidden');
    }
    expect((await api(hub.base, 'POST', '/publish?clientName=app', { event: 'app.alarm', data: 1 })).status).toBe(201);
    await waitFor(() => eventsOf(watch).includes('app.alarm'));
    expect(eventsOf(watch)).toEqual(['app.alarm']);
  });
});

/** A subscriber that received the first value of a gateway's stream, then went away: the seq it last saw. */
async function seeOneThenLeave(name: string): Promise<{ gw: FakeGateway; lastSeen: number }> {
  const first = await client(name);
  await subscribe(first, 'telemetry');
  const gw = await gateway();
  gw.send(telemetry(1));
  await waitFor(() => eventsOf(first).length === 1);
  first.ws.terminate();
  return { gw, lastSeen: first.messages.at(-1)!.seq as number };
}

describe('resuming', () => {
  it('events carry seqs; a subscriber that reconnects gets what it missed, in order', async () => {
    hub = await startHub();
    const { gw, lastSeen } = await seeOneThenLeave('resumer');
    for (let seq = 2; seq <= 11; seq++) gw.send(telemetry(seq));
    await gw.acked(11);
    const again = await client('resumer');
    await subscribe(again, 'telemetry');
    again.ws.send(JSON.stringify({ action: 'resume', after: lastSeen }));
    await waitFor(() => eventsOf(again).length === 10);
    const resumed = again.messages.find((m) => m.action === 'resumed');
    expect(resumed).toMatchObject({ after: lastSeen });
    expect(resumed.gap).toBeUndefined();
    const replayed = again.messages.filter((m) => m.event === 'telemetry/d1');
    expect(replayed.map((m) => m.data.value)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(replayed.map((m) => m.seq)).toEqual([...replayed.map((m) => m.seq)].sort((a, b) => a - b));
  });

  it('across a hub restart', async () => {
    hub = await startHub();
    const dir = hub.dir;
    const { gw, lastSeen } = await seeOneThenLeave('restart');
    for (let seq = 2; seq <= 5; seq++) gw.send(telemetry(seq));
    await gw.acked(5);
    await hub.stop();
    hub = await startHub({ dir });
    const again = await client('restart');
    await subscribe(again, 'telemetry');
    again.ws.send(JSON.stringify({ action: 'resume', after: lastSeen }));
    await waitFor(() => eventsOf(again).length === 4);
    expect(again.messages.filter((m) => m.event === 'telemetry/d1').map((m) => m.data.value)).toEqual([2, 3, 4, 5]);
  });

  it('a subscriber further behind than the window is told the gap', async () => {
    hub = await startHub({ hub: { retainedEvents: 5 } });
    const gw = await gateway();
    gw.send({ type: 'snapshot', devices: [device('d1')] });
    for (let seq = 1; seq <= 20; seq++) gw.send(telemetry(seq));
    await gw.acked(20);
    const late = await client('late');
    await subscribe(late, 'telemetry');
    late.ws.send(JSON.stringify({ action: 'resume', after: 0 }));
    await waitFor(() => eventsOf(late).length === 5);
    const resumed = late.messages.find((m) => m.action === 'resumed');
    const kept = late.messages.filter((m) => m.event === 'telemetry/d1');
    expect(kept.map((m) => m.data.value)).toEqual([16, 17, 18, 19, 20]);
    expect(resumed.gap).toEqual({ from: 1, to: kept[0].seq - 1 });
  });
});
