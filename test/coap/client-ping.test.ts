import { describe, expect, it } from 'vitest';
import type { CoapClient } from '../../src/coap/client.js';
import { freeUdpPort } from '../helpers/ports.js';
import { empty } from './raw-peer.js';
import { clientFixture } from './fixture.js';
import { libcoapServerMissing } from '../helpers/tools.js';

const fixture = clientFixture({ libcoapArgs: [] });
const { rawPeer } = fixture;
let client: CoapClient;

describe('CoapClient.ping', () => {
  it.skipIf(libcoapServerMissing() !== undefined)('is answered by a live libcoap server', async () => {
    client = fixture.newClient();
    expect(await client.ping('127.0.0.1', fixture.libcoapPort, 10_000)).toBe(true);
  });

  it('resolves false for a silent peer, after retransmitting within the timeout', async () => {
    const silent = await rawPeer();
    client = fixture.newClient();
    expect(await client.ping('127.0.0.1', silent.port, 500)).toBe(false);
    expect(silent.received.length).toBeGreaterThanOrEqual(2);
    expect(silent.received.every((message) => message.type === 'CON' && message.code === '0.00')).toBe(true);
  });

  it('resolves false, never throws, for unroutable or invalid targets', async () => {
    client = fixture.newClient();
    expect(await client.ping('0.0.0.0', 0, 300)).toBe(false);
    expect(await client.ping('ff02::1%nonexistent0', 5683, 300)).toBe(false);
    expect(await client.ping('host.invalid', 5683, 300)).toBe(false);
    // Nothing listens there: the ICMP port-unreachable must neither crash nor throw.
    const closedPort = await freeUdpPort();
    expect(await client.ping('127.0.0.1', closedPort, 300)).toBe(false);
    expect(await client.ping('::1', closedPort, 300)).toBe(false);
  });

  it('runs many concurrent pings to different peers', async () => {
    const live = await Promise.all(
      Array.from({ length: 50 }, () => rawPeer((message, peer) => peer.send(empty('RST', message.messageId)))),
    );
    const dead = await Promise.all(Array.from({ length: 10 }, () => rawPeer()));
    client = fixture.newClient();
    // Generous for the live ones (a loaded machine), short for the dead: both sets run at once.
    const results = await Promise.all([
      ...live.map((peer) => client.ping('127.0.0.1', peer.port, 10_000)),
      ...dead.map((peer) => client.ping('127.0.0.1', peer.port, 400)),
    ]);
    expect(results).toEqual([...live.map(() => true), ...dead.map(() => false)]);
  });
});
