import { afterEach, describe, expect, it } from 'vitest';
import { OptionNumber } from '../../src/coap/options.js';
import { silentLogger } from '../../src/log.js';
import { Thing } from '../../src/thing/index.js';
import { empty, rawPeerPool, type RawPeer } from '../coap/raw-peer.js';
import { waitFor } from '../helpers/wait.js';

const peers = rawPeerPool();
const things: Thing[] = [];
afterEach(async () => {
  await Promise.all(things.splice(0).map((thing) => thing.stop()));
  await peers.closeAll();
});

async function startThing(): Promise<Thing> {
  const thing = new Thing({ log: silentLogger(), name: 'observed', sensorIntervalMs: 0, confirmableTimeoutMs: 300 });
  things.push(thing);
  await thing.start();
  return thing;
}

/** A confirmable Observe registration of /sensors/temp (RFC 7641 §3.1) from `peer`. */
function observe(peer: RawPeer, thing: Thing): void {
  peer.send(
    {
      type: 'CON',
      code: '0.01',
      messageId: 1,
      token: Buffer.from('0b5e', 'hex'),
      options: [
        { number: OptionNumber.observe, value: Buffer.alloc(0) },
        { number: OptionNumber.uriPath, value: Buffer.from('sensors') },
        { number: OptionNumber.uriPath, value: Buffer.from('temp') },
      ],
      payload: Buffer.alloc(0),
    },
    thing.address().port,
  );
}

const notifications = (peer: RawPeer) => peer.distinct.filter((m) => m.type === 'CON' && m.code === '2.05');

describe('RFC 7641 §4.5: the thing drops observers that do not acknowledge confirmable notifications', () => {
  it('an observer that rejects a notification with a Reset is removed at once', async () => {
    const thing = await startThing();
    const peer = await peers.start((message, self) => {
      if (message.type === 'CON') self.send(empty('RST', message.messageId));
    });
    observe(peer, thing);
    await waitFor(() => thing.observerCount === 1);
    thing.setTemperature(30);
    await waitFor(() => thing.observerCount === 0);
    expect(thing.stats.observersDropped).toBe(1);
  });

  it('an observer that never acknowledges is removed after the timeout; no notification reaches it after', async () => {
    const thing = await startThing();
    const peer = await peers.start();
    observe(peer, thing);
    await waitFor(() => thing.observerCount === 1);
    thing.setTemperature(31);
    await waitFor(() => thing.observerCount === 0, { timeoutMs: 5_000 });
    const before = notifications(peer).length;
    expect(before).toBe(1);
    // A value change after the drop is sent to no one: the sent-notification count is the barrier.
    const sent = thing.stats.notifications;
    thing.setTemperature(32);
    expect(thing.stats.notifications).toBe(sent);
  });

  it('an observer that acknowledges every notification stays while a silent one beside it is dropped', async () => {
    const thing = await startThing();
    const acking = await peers.start((message, self) => {
      if (message.type === 'CON') self.send(empty('ACK', message.messageId));
    });
    const silent = await peers.start();
    observe(acking, thing);
    observe(silent, thing);
    await waitFor(() => thing.observerCount === 2);
    for (let value = 40; value < 45; value++) thing.setTemperature(value);
    // The silent observer's deadline passing is the barrier: the acknowledged ones started the same deadline.
    await waitFor(() => thing.stats.observersDropped === 1, { timeoutMs: 5_000 });
    expect(thing.observerCount).toBe(1);
    thing.setTemperature(50);
    await waitFor(() => notifications(acking).length === 6);
  });
});
