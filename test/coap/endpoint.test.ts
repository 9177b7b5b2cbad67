import { afterEach, describe, expect, it } from 'vitest';
import { CoapClient } from '../../src/coap/client.js';
import { Endpoint } from '../../src/coap/endpoint.js';
import type { Message } from '../../src/coap/message.js';
import { CoapServer } from '../../src/coap/server.js';
import { DEFAULT_TIMING } from '../../src/coap/timing.js';
import { silentLogger } from '../../src/log.js';
import { waitFor } from '../helpers/wait.js';
import { empty, rawPeerPool, type RawPeer } from './raw-peer.js';

const peers = rawPeerPool();
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  await peers.closeAll();
});

const log = silentLogger();

/** The gateway's arrangement: one endpoint, a server and a client on it. */
async function oneEndpoint(): Promise<{ endpoint: Endpoint; server: CoapServer; client: CoapClient; port: number }> {
  const endpoint = new Endpoint({ log, bind: '127.0.0.1', port: 0, timing: { ...DEFAULT_TIMING, ackTimeoutMs: 200 } });
  const server = new CoapServer({
    log,
    endpoint,
    handler: (request) => ({ code: '2.05', payload: `hello ${request.path.join('/')}` }),
  });
  const client = new CoapClient({ log, endpoint });
  const { port } = await server.listen();
  cleanup.push(async () => {
    await server.close();
    await client.close();
    await endpoint.close();
  });
  return { endpoint, server, client, port };
}

const request = (messageId: number, path: string, type: Message['type'] = 'CON'): Message => ({
  type,
  code: '0.01',
  messageId,
  token: Buffer.from([messageId & 0xff]),
  options: [{ number: 11, value: Buffer.from(path) }],
  payload: Buffer.alloc(0),
});

describe('one CoAP endpoint serving and requesting (RFC 7252 §1.2, one socket per bound address)', () => {
  it("answers a peer's request and sends its own requests to the peer from the same port", async () => {
    const { client, port } = await oneEndpoint();
    const peer = await peers.start((message, self) => {
      if (message.code === '0.01') {
        self.send({ ...message, type: 'ACK', code: '2.05', payload: Buffer.from('device value') });
      }
    });
    // The peer registers (any request) from its port, then the gateway sends it a request.
    peer.send(request(1, 'rd'), port);
    await waitFor(() => peer.received.find((m) => m.type === 'ACK'), { what: "the server's answer" });
    const reply = await client.request({
      host: '127.0.0.1',
      port: peer.port,
      method: 'GET',
      path: '/x',
      timeoutMs: 2000,
    });
    expect(reply.payload.toString()).toBe('device value');
    expect(peer.received.some((m) => m.code === '0.01')).toBe(true);
    // RawPeer records where the last datagram came from: the RD's own port.
    expect((peer as unknown as { clientPort: number }).clientPort).toBe(port);
  });

  it('keeps requests and responses of a peer apart in duplicate detection: the `coap` package reuses ids across roles', async () => {
    const { client, port } = await oneEndpoint();
    let exchange: Message | undefined;
    const peer = await peers.start((message, self) => {
      if (message.code !== '0.01' || message.type !== 'CON') return;
      exchange = message;
      // Empty ACK now, the response later as a CON whose message id is the one the peer's request used.
      self.send(empty('ACK', message.messageId));
      setTimeout(
        () => self.send({ ...message, type: 'CON', code: '2.05', messageId: 7, payload: Buffer.from('late') }),
        50,
      );
    });
    peer.send(request(7, 'rd'), port);
    await waitFor(() => peer.received.find((m) => m.type === 'ACK' && m.messageId === 7), { what: 'the ACK of id 7' });
    const reply = await client.request({
      host: '127.0.0.1',
      port: peer.port,
      method: 'GET',
      path: '/y',
      timeoutMs: 2000,
    });
    expect(reply.payload.toString()).toBe('late');
    expect(exchange).toBeDefined();
    // The separate response got its own empty ACK, not the piggybacked 2.05 cached for the request with id 7.
    const acksOf7 = (): Message[] => peer.received.filter((m) => m.type === 'ACK' && m.messageId === 7);
    await waitFor(() => acksOf7().length === 2, { what: 'the ACK of the separate response' });
    expect(acksOf7().map((m) => m.code)).toEqual(['2.05', '0.00']);
  });

  it('draws message ids for its NON replies and its own requests from one counter per peer', async () => {
    const { client, port } = await oneEndpoint();
    const peer = await peers.start((message, self) => {
      if (message.type === 'CON' && message.code === '0.01') self.send({ ...message, type: 'ACK', code: '2.05' });
    });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      peer.send(request(100 + i, 'a', 'NON'), port);
      await waitFor(() => peer.received.filter((m) => m.type === 'NON').length === i + 1, { what: 'a NON reply' });
      await client.request({ host: '127.0.0.1', port: peer.port, method: 'GET', path: '/b', timeoutMs: 2000 });
    }
    for (const message of peer.received)
      if (message.type === 'NON' || message.type === 'CON') ids.push(message.messageId);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
    // Consecutive: one counter, whichever role sent.
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1]! + 1) & 0xffff);
  });

  it('answers a request with an empty ACK and a separate CON response when the handler asks (RFC 7252 §5.2.2)', async () => {
    const endpoint = new Endpoint({
      log,
      bind: '127.0.0.1',
      port: 0,
      timing: { ...DEFAULT_TIMING, ackTimeoutMs: 200 },
    });
    let finish: () => void = () => undefined;
    const server = new CoapServer({
      log,
      endpoint,
      handler: (req) => {
        req.acknowledge?.();
        return new Promise((resolve) => (finish = () => resolve({ code: '2.04', payload: 'done' })));
      },
    });
    const { port } = await server.listen();
    cleanup.push(async () => {
      await server.close();
      await endpoint.close();
    });
    const peer: RawPeer = await peers.start((message, self) => {
      if (message.type === 'CON' && message.code === '2.04') self.send(empty('ACK', message.messageId));
    });
    peer.send(request(42, 'slow'), port);
    await waitFor(() => peer.received.find((m) => m.type === 'ACK'), { what: 'the empty ACK' });
    expect(peer.received[0]).toMatchObject({ type: 'ACK', code: '0.00', messageId: 42 });
    // A retransmission of the request meanwhile is acknowledged again, not executed twice.
    peer.send(request(42, 'slow'), port);
    await waitFor(() => peer.received.filter((m) => m.type === 'ACK').length === 2, { what: 'the second empty ACK' });
    finish();
    const separate = await waitFor(() => peer.received.find((m) => m.type === 'CON'), {
      what: 'the separate response',
    });
    expect(separate).toMatchObject({ code: '2.04', token: Buffer.from([42]) });
    expect(separate.payload.toString()).toBe('done');
    // Acknowledged by the peer: no retransmission left pending.
    await waitFor(() => endpoint.inFlight().confirmables === 0, { what: 'the separate response acknowledged' });
  });
});
