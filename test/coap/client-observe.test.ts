import coap from 'coap';
import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoapClient } from '../../src/coap/client.js';
import type { Message } from '../../src/coap/message.js';
import { isFresher } from '../../src/coap/observation.js';
import { decodeBlock, encodeBlock, encodeUint, findOption, OptionNumber, uintOption } from '../../src/coap/options.js';
import type { CoapReply } from '../../src/coap/types.js';
import { waitFor } from '../helpers/wait.js';
import { empty } from './raw-peer.js';
import { clientFixture } from './fixture.js';
import { libcoapServerMissing } from '../helpers/tools.js';

const fixture = clientFixture({ libcoapArgs: [] });
const { rawPeer } = fixture;
let client: CoapClient;

const notification = (
  request: Message,
  sequence: number,
  payload: string,
  extra: Message['options'] = [],
): Message => ({
  type: 'CON',
  code: '2.05',
  messageId: 1000 + sequence,
  token: request.token,
  options: [{ number: OptionNumber.observe, value: encodeUint(sequence) }, ...extra],
  payload: Buffer.from(payload),
});

describe('CoapClient.observe against the coap package server', () => {
  let server: ReturnType<typeof coap.createServer>;
  let port: number;
  const deregistrations: number[] = [];
  const streams = new Set<{ end(): void }>();

  beforeAll(async () => {
    server = coap.createServer((req, res) => {
      if (req.headers.Observe === 1) {
        deregistrations.push(1);
        // RFC 7641 §3.6: the server removes the observer the deregistration names.
        for (const stream of streams) stream.end();
        res.end('bye');
        return;
      }
      if (req.headers.Observe !== 0) return res.end('plain');
      streams.add(res);
      let value = 0;
      res.write(`v${value}`);
      const timer = setInterval(() => {
        value++;
        if (value <= 5) res.write(`v${value}`);
      }, 20);
      res.on('finish', () => {
        clearInterval(timer);
        streams.delete(res);
      });
      req.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server._sock as Socket).address().port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('delivers the first response and every notification in order, then deregisters on cancel()', async () => {
    client = fixture.newClient();
    const seen: CoapReply[] = [];
    const observation = client.observe(
      { host: '127.0.0.1', port, method: 'GET', path: '/temp', timeoutMs: 5000 },
      (reply) => seen.push(reply),
    );
    await waitFor(() => seen.length === 6, { what: 'six notifications' });
    expect(seen.map((reply) => reply.payload.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    expect(seen.every((reply) => reply.observe !== undefined && reply.code === '2.05')).toBe(true);
    await observation.cancel();
    expect(deregistrations.length).toBe(1);
    expect(streams.size).toBe(0);
    expect(await observation.ended).toEqual({ reason: 'cancelled' });
    expect(seen.length).toBe(6);
  });
});

describe.skipIf(libcoapServerMissing() !== undefined)('CoapClient.observe against libcoap coap-server-notls', () => {
  it('follows /time and cancels', async () => {
    client = fixture.newClient();
    const seen: CoapReply[] = [];
    const observation = client.observe(
      { host: '127.0.0.1', port: fixture.libcoapPort, method: 'GET', path: '/time', timeoutMs: 5000 },
      (reply) => seen.push(reply),
    );
    await waitFor(() => seen.length >= 2, { what: 'two /time notifications' });
    expect(seen[1]!.observe! > seen[0]!.observe!).toBe(true);
    await observation.cancel();
    expect((await observation.ended).reason).toBe('cancelled');
  });

  it("ends with 'not-observable' and delivers the reply when the resource does not support Observe", async () => {
    client = fixture.newClient();
    const seen: CoapReply[] = [];
    const observation = client.observe(
      { host: '127.0.0.1', port: fixture.libcoapPort, method: 'GET', path: '/', timeoutMs: 5000 },
      (reply) => seen.push(reply),
    );
    const ended = await observation.ended;
    expect(ended.reason).toBe('not-observable');
    expect(ended.reply?.payload.toString()).toContain('libcoap');
    expect(seen).toHaveLength(1);
  });

  it("ends with 'rejected' on an error reply", async () => {
    client = fixture.newClient();
    const observation = client.observe(
      { host: '127.0.0.1', port: fixture.libcoapPort, method: 'GET', path: '/nothing-here', timeoutMs: 5000 },
      () => {
        throw new Error('must not be delivered');
      },
    );
    const ended = await observation.ended;
    expect(ended.reason).toBe('rejected');
    expect(ended.reply?.code).toBe('4.04');
  });
});

describe('CoapClient.observe message layer (RFC 7641)', () => {
  it('drops reordered notifications (§3.4), acknowledges every CON, and exposes Max-Age', async () => {
    const device = await rawPeer((message, peer) => {
      if (message.type !== 'CON' || message.code !== '0.01') return;
      peer.send({
        type: 'ACK',
        code: '2.05',
        messageId: message.messageId,
        token: message.token,
        options: notification(message, 10, '').options,
        payload: Buffer.from('10'),
      });
      const maxAge = [{ number: OptionNumber.maxAge, value: encodeUint(30) }];
      for (const sequence of [12, 11, 13]) peer.send(notification(message, sequence, String(sequence), maxAge));
    });
    client = fixture.newClient();
    const seen: CoapReply[] = [];
    client.observe({ host: '127.0.0.1', port: device.port, method: 'GET', path: '/s', timeoutMs: 5000 }, (reply) =>
      seen.push(reply),
    );
    await waitFor(() => device.received.filter((message) => message.type === 'ACK').length >= 3, {
      what: 'three ACKs',
    });
    await waitFor(() => seen.length === 3, { what: 'three deliveries' });
    expect(seen.map((reply) => reply.payload.toString())).toEqual(['10', '12', '13']);
    expect(seen[1]!.maxAge).toBe(30);
    const request = device.received[0]!;
    expect(uintOption(request.options, OptionNumber.observe)).toBe(0);
  });

  it('completes a notification that carries Block2 with GETs without Observe (RFC 7959 §2.6)', async () => {
    const representation = Buffer.from('0123456789'.repeat(10));
    const device = await rawPeer((message, peer) => {
      const requested = findOption(message.options, OptionNumber.block2);
      const num = requested === undefined ? 0 : decodeBlock(requested).num;
      const block = { num, more: num === 0, szx: 2 };
      const options: Message['options'] = [{ number: OptionNumber.block2, value: encodeBlock(block) }];
      if (requested === undefined) options.push(notification(message, 1, '').options[0]!);
      const payload = representation.subarray(num * 64, num * 64 + 64);
      peer.send({ type: 'ACK', code: '2.05', messageId: message.messageId, token: message.token, options, payload });
    });
    client = fixture.newClient();
    const seen: CoapReply[] = [];
    client.observe({ host: '127.0.0.1', port: device.port, method: 'GET', path: '/big', timeoutMs: 5000 }, (reply) =>
      seen.push(reply),
    );
    await waitFor(() => seen.length === 1, { what: 'the assembled notification' });
    expect(seen[0]!.payload.equals(representation)).toBe(true);
    expect(seen[0]!.observe).toBe(1);
    const [registration, follow] = device.distinct;
    expect(uintOption(follow!.options, OptionNumber.observe)).toBeUndefined();
    expect(follow!.token.equals(registration!.token)).toBe(false);
  });

  it('keeps observing when the first response is a CON that overtakes the ACK (RFC 7252 §5.2.2)', async () => {
    const device = await rawPeer((message, peer) => {
      if (message.type !== 'CON' || message.code !== '0.01') return;
      peer.send(notification(message, 1, 'first'));
      setTimeout(() => peer.send(notification(message, 2, 'second')), 20);
    });
    client = fixture.newClient();
    const seen: string[] = [];
    const observation = client.observe(
      { host: '127.0.0.1', port: device.port, method: 'GET', path: '/s', timeoutMs: 5000 },
      (reply) => seen.push(reply.payload.toString()),
    );
    await waitFor(() => seen.length === 2, { what: 'two notifications' });
    expect(seen).toEqual(['first', 'second']);
    const state = await Promise.race([observation.ended, Promise.resolve('open')]);
    expect(state).toBe('open');
  });

  it('resets a notification whose token it does not know (§3.6)', async () => {
    const device = await rawPeer();
    client = fixture.newClient();
    const { port } = await client.address();
    device.send(
      {
        type: 'CON',
        code: '2.05',
        messageId: 77,
        token: Buffer.from('feedbeef', 'hex'),
        options: [{ number: OptionNumber.observe, value: encodeUint(3) }],
        payload: Buffer.from('x'),
      },
      port,
    );
    const reset = await waitFor(() => device.received.find((message) => message.type === 'RST'), { what: 'Reset' });
    expect(reset.messageId).toBe(77);
  });

  it('sends the deregistration GET with Observe=1 and the same token (§3.6)', async () => {
    const device = await rawPeer((message, peer) => {
      if (message.type !== 'CON') return;
      const observe = uintOption(message.options, OptionNumber.observe);
      const options = observe === 0 ? notification(message, 1, '').options : [];
      peer.send({
        type: 'ACK',
        code: '2.05',
        messageId: message.messageId,
        token: message.token,
        options,
        payload: Buffer.from('v'),
      });
    });
    client = fixture.newClient();
    const observation = client.observe(
      { host: '127.0.0.1', port: device.port, method: 'GET', path: '/s', query: ['q=1'], timeoutMs: 5000 },
      () => undefined,
    );
    await waitFor(() => device.received.length > 0, { what: 'registration' });
    await observation.cancel();
    const [registration, deregistration] = device.distinct;
    expect(uintOption(deregistration!.options, OptionNumber.observe)).toBe(1);
    expect(deregistration!.token).toEqual(registration!.token);
    expect(deregistration!.options.filter((o) => o.number !== OptionNumber.observe)).toEqual(
      registration!.options.filter((o) => o.number !== OptionNumber.observe),
    );
  });

  it("ends with 'reset' when the registration is answered by Reset, and 'timeout' when nobody answers", async () => {
    const resetting = await rawPeer((message, peer) => peer.send(empty('RST', message.messageId)));
    const silent = await rawPeer();
    client = fixture.newClient();
    const target = { method: 'GET' as const, path: '/s', host: '127.0.0.1' };
    const reset = client.observe({ ...target, port: resetting.port, timeoutMs: 5000 }, () => undefined);
    const timeout = client.observe({ ...target, port: silent.port, timeoutMs: 300 }, () => undefined);
    expect((await reset.ended).reason).toBe('reset');
    expect((await timeout.ended).reason).toBe('timeout');
  });

  it('ends observations when the client closes', async () => {
    const silent = await rawPeer();
    client = fixture.newClient();
    const observation = client.observe(
      { host: '127.0.0.1', port: silent.port, method: 'GET', path: '/s', timeoutMs: 5000 },
      () => undefined,
    );
    await client.close();
    expect((await observation.ended).reason).toBe('cancelled');
  });
});

describe('isFresher (RFC 7641 §3.4)', () => {
  it('orders 24-bit sequence numbers with wrap-around and the 128 s window', () => {
    expect(isFresher(5, 0, 6, 1)).toBe(true);
    expect(isFresher(6, 0, 5, 1)).toBe(false);
    expect(isFresher(2 ** 24 - 1, 0, 0, 1)).toBe(true);
    expect(isFresher(0, 0, 2 ** 24 - 1, 1)).toBe(false);
    expect(isFresher(6, 0, 5, 128_001)).toBe(true);
  });
});
