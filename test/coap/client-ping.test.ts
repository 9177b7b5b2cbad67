import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoapClient } from '../../src/coap/client.js';
import { silentLogger } from '../../src/log.js';
import { freeUdpPort, startLibcoapServer, type LibcoapServer } from './libcoap.js';
import { empty, rawPeerPool } from './raw-peer.js';

// RFC 7252 §4.3 CoAP ping; short retransmission timers keep the unanswered cases quick.
const timing = { ackTimeoutMs: 100 };
let libcoap: LibcoapServer;
let client: CoapClient;
const pool = rawPeerPool();
const rawPeer = pool.start;

beforeAll(async () => {
  libcoap = await startLibcoapServer();
});
afterAll(async () => {
  await libcoap.stop();
});
afterEach(async () => {
  await client?.close();
  await pool.closeAll();
});

describe('CoapClient.ping', () => {
  it('is answered by a live libcoap server', async () => {
    client = new CoapClient({ log: silentLogger(), timing });
    expect(await client.ping('127.0.0.1', libcoap.port, 2000)).toBe(true);
  });

  it('resolves false for a silent peer, after retransmitting within the timeout', async () => {
    const silent = await rawPeer();
    client = new CoapClient({ log: silentLogger(), timing });
    expect(await client.ping('127.0.0.1', silent.port, 500)).toBe(false);
    expect(silent.received.length).toBeGreaterThanOrEqual(2);
    expect(silent.received.every((message) => message.type === 'CON' && message.code === '0.00')).toBe(true);
  });

  it('resolves false, never throws, for unroutable or invalid targets', async () => {
    client = new CoapClient({ log: silentLogger(), timing });
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
    client = new CoapClient({ log: silentLogger(), timing });
    const results = await Promise.all([...live, ...dead].map((peer) => client.ping('127.0.0.1', peer.port, 400)));
    expect(results).toEqual([...live.map(() => true), ...dead.map(() => false)]);
  });
});
