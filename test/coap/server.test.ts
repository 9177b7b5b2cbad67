import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { isUnanswerable } from '../../src/coap/server.js';
import { CoapError, type CoapRequest } from '../../src/coap/types.js';
import { waitFor } from '../helpers/wait.js';
import { option } from './server-peer.js';
import { startServer, type Fixture } from './server-fixture.js';

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const token = Buffer.from('c0ffee01', 'hex');

describe('CoapServer requests and replies (RFC 7252)', () => {
  it('answers a CON GET with a piggybacked ACK echoing token and message id, options decoded', async () => {
    const seen: CoapRequest[] = [];
    fixture = await startServer((request) => {
      seen.push(request);
      return { code: '2.05', payload: 'hello', contentFormat: 0, maxAge: 30, etag: Buffer.from([1, 2]) };
    });
    const peer = await fixture.peer();
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 100,
      token,
      options: [
        { name: 'Uri-Path', value: Buffer.from('sensors') },
        { name: 'Uri-Path', value: Buffer.from('tëmp') },
        { name: 'Uri-Query', value: Buffer.from('rt=temperature') },
        { name: 'Accept', value: Buffer.from([0]) },
      ],
    });
    const reply = await peer.reply({ messageId: 100 });
    expect(reply.ack).toBe(true);
    expect(reply.code).toBe('2.05');
    expect(reply.token).toEqual(token);
    expect(reply.payload.toString()).toBe('hello');
    expect(option(reply, 'Content-Format')).toEqual(Buffer.alloc(0));
    expect(option(reply, 'Max-Age')).toEqual(Buffer.from([30]));
    expect(option(reply, 'ETag')).toEqual(Buffer.from([1, 2]));
    expect(seen[0]).toMatchObject({
      method: 'GET',
      path: ['sensors', 'tëmp'],
      query: ['rt=temperature'],
      accept: 0,
      multicast: false,
      source: { address: '127.0.0.1', family: 'IPv4' },
    });
  });

  it('answers a NON POST with a NON reply carrying Location-Path and the request payload reaching the handler', async () => {
    fixture = await startServer((request) => ({
      code: '2.01',
      locationPath: ['rd', request.payload.toString()],
      locationQuery: ['a=b'],
    }));
    const peer = await fixture.peer();
    await peer.send({ code: 'POST', messageId: 7, token, payload: Buffer.from('x1') });
    const reply = await peer.reply({ token });
    expect(reply.confirmable || reply.ack).toBe(false);
    expect(reply.code).toBe('2.01');
    expect(reply.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString())).toEqual([
      'rd',
      'x1',
    ]);
    expect(option(reply, 'Location-Query')?.toString()).toBe('a=b');
  });

  it('executes a duplicate CON once and answers both copies with identical bytes (RFC 7252 §4.5)', async () => {
    let runs = 0;
    fixture = await startServer(() => ({ code: '2.04', payload: `run ${++runs}` }));
    const peer = await fixture.peer();
    const request = { confirmable: true, code: 'POST', messageId: 4242, token };
    await peer.send(request);
    await peer.reply({ messageId: 4242 });
    await peer.send(request);
    await waitFor(() => peer.replies.length === 2, { what: 'second reply' });
    expect(runs).toBe(1);
    expect(peer.replies[1]).toEqual(peer.replies[0]);
  });

  it('does not run a slow handler again for a retransmission that arrives while it works', async () => {
    let runs = 0;
    const waiting: Array<() => void> = [];
    fixture = await startServer(async () => {
      runs++;
      await new Promise<void>((resolve) => waiting.push(resolve));
      return { code: '2.04' };
    });
    const peer = await fixture.peer();
    const request = { confirmable: true, code: 'POST', messageId: 9, token };
    await peer.send(request);
    await waitFor(() => runs === 1, { what: 'handler start' });
    await peer.send(request);
    await peer.send({ ...request, confirmable: false, messageId: 10 });
    await waitFor(() => runs === 2, { what: 'the other message handled' });
    for (const resume of waiting) resume();
    await peer.reply({ messageId: 9 });
    await peer.send(request);
    await waitFor(() => peer.replies.filter((r) => r.messageId === 9).length === 2, { what: 'cached reply' });
    expect(runs).toBe(2);
  });

  it('drops a duplicate NON', async () => {
    let runs = 0;
    fixture = await startServer(() => ({ code: '2.05', payload: String(++runs) }));
    const peer = await fixture.peer();
    await peer.send({ code: 'GET', messageId: 55, token });
    await peer.send({ code: 'GET', messageId: 55, token });
    await peer.send({ code: 'GET', messageId: 56, token: Buffer.from('02', 'hex') });
    await peer.reply({ token: Buffer.from('02', 'hex') });
    await peer.reply({ token });
    expect(runs).toBe(2);
  });

  it('answers an empty CON (CoAP ping, RFC 7252 §4.3) with RST and ignores ACK and RST', async () => {
    fixture = await startServer(() => ({ code: '2.05' }));
    const peer = await fixture.peer();
    await peer.sendRaw(Buffer.from([0x60, 0x00, 0x12, 0x34])); // ACK
    await peer.sendRaw(Buffer.from([0x70, 0x00, 0x12, 0x35])); // RST
    await peer.sendRaw(Buffer.from([0x40, 0x00, 0x12, 0x36])); // empty CON
    const reply = await peer.reply({ messageId: 0x1236 });
    expect(reply.reset).toBe(true);
    expect(reply.code).toBe('0.00');
    expect(peer.replies).toHaveLength(1);
  });

  it('turns a handler exception into a bare 5.00 to the right peer and one log line', async () => {
    fixture = await startServer(() => {
      throw new Error('secret internal detail');
    });
    const bystander = await fixture.peer();
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: 'GET', messageId: 1, token });
    const reply = await peer.reply({ messageId: 1 });
    expect(reply.code).toBe('5.00');
    expect(reply.payload).toHaveLength(0);
    expect(bystander.replies).toHaveLength(0);
    const failures = fixture.logLines.filter((line) => line.includes('secret internal detail'));
    expect(failures).toHaveLength(1);
  });

  it('answers 5.00 when an async handler returns what cannot be encoded', async () => {
    fixture = await startServer(async (request) => ({ code: '2.05', maxAge: request.path[0] === 'bad' ? -1 : 1 }));
    const peer = await fixture.peer();
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 5,
      token,
      options: [{ name: 'Uri-Path', value: Buffer.from('bad') }],
    });
    expect((await peer.reply({ messageId: 5 })).code).toBe('5.00');
    expect(fixture.logLines.filter((line) => line.includes('coap handler failed'))).toHaveLength(1);
  });

  it('answers 5.00 when admit throws', async () => {
    fixture = await startServer(() => ({ code: '2.05' }), {
      admit: () => {
        throw new Error('limits broken');
      },
    });
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: 'GET', messageId: 6, token });
    const reply = await peer.reply({ messageId: 6 });
    expect(reply.code).toBe('5.00');
    expect(reply.payload).toHaveLength(0);
  });

  it('renders a thrown CoapError (also from an async handler) as its code, diagnostic and Max-Age', async () => {
    fixture = await startServer(async () => {
      await Promise.resolve();
      throw new CoapError('5.03', 'slow down', 7);
    });
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: 'POST', messageId: 2, token });
    const reply = await peer.reply({ messageId: 2 });
    expect(reply.code).toBe('5.03');
    expect(reply.payload.toString()).toBe('slow down');
    expect(option(reply, 'Max-Age')).toEqual(Buffer.from([7]));
    expect(option(reply, 'Content-Format')).toBeUndefined();
  });

  it('refuses through admit before the handler runs', async () => {
    let runs = 0;
    fixture = await startServer(() => ({ code: '2.05', payload: String(++runs) }), {
      admit: (peer) => (peer.address === '127.0.0.1' ? new CoapError('4.03', 'network not allowed') : undefined),
    });
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: 'GET', messageId: 3, token });
    expect((await peer.reply({ messageId: 3 })).code).toBe('4.03');
    expect(runs).toBe(0);
  });

  it('answers an unknown method code with 4.05, an unknown critical option with 4.02, Proxy-Uri with 5.05', async () => {
    fixture = await startServer(() => ({ code: '2.05' }));
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: '0.25', messageId: 20, token });
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 21,
      token,
      options: [{ name: '65001', value: Buffer.from('x') }],
    });
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 22,
      token,
      options: [{ name: '65000', value: Buffer.from('x') }],
    });
    await peer.send({
      confirmable: true,
      code: 'GET',
      messageId: 23,
      token,
      options: [{ name: 'Proxy-Uri', value: Buffer.from('coap://x/') }],
    });
    expect((await peer.reply({ messageId: 20 })).code).toBe('4.05');
    expect((await peer.reply({ messageId: 21 })).code).toBe('4.02');
    expect((await peer.reply({ messageId: 22 })).code).toBe('2.05'); // elective: ignored (RFC 7252 §5.4.1)
    expect((await peer.reply({ messageId: 23 })).code).toBe('5.05');
  });

  it('rejects a malformed CON with RST (RFC 7252 §4.2) and a CON response it never asked for', async () => {
    fixture = await startServer(() => ({ code: '2.05' }));
    const peer = await fixture.peer();
    await peer.sendRaw(Buffer.from([0x49, 0x01, 0x00, 0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9])); // token length 9
    await peer.sendRaw(Buffer.from([0x40, 0x45, 0x00, 0x31])); // CON 2.05
    await peer.sendRaw(Buffer.from([0x50, 0x01, 0x00, 0x32, 0xf0])); // NON with option delta 15: dropped
    expect((await peer.reply({ messageId: 0x30 })).reset).toBe(true);
    expect((await peer.reply({ messageId: 0x31 })).reset).toBe(true);
    await peer.send({ confirmable: true, code: 'GET', messageId: 0x33, token });
    await peer.reply({ messageId: 0x33 });
    expect(peer.replies.map((r) => r.messageId)).not.toContain(0x32);
  });

  it('serves IPv6 (::1) and IPv4 peers on one dual-stack socket, IPv4 shown unmapped', async () => {
    fixture = await startServer((request) => ({
      code: '2.05',
      payload: `${request.source.family} ${request.source.address}`,
    }));
    const v6 = await fixture.peer('::1');
    const v4 = await fixture.peer('127.0.0.1');
    await v6.send({ confirmable: true, code: 'GET', messageId: 1, token });
    await v4.send({ confirmable: true, code: 'GET', messageId: 1, token });
    expect((await v6.reply({ messageId: 1 })).payload.toString()).toBe('IPv6 ::1');
    expect((await v4.reply({ messageId: 1 })).payload.toString()).toBe('IPv4 127.0.0.1');
  });

  it('never answers a datagram from source port 0 (Node throws on sending to it)', async () => {
    expect(isUnanswerable({ port: 0 })).toBe(true);
    expect(isUnanswerable({ port: 5683 })).toBe(false);
    fixture = await startServer(() => ({ code: '2.05' }));
    // No socket can send from port 0, so the datagram is injected where the kernel's would arrive.
    const { endpoint } = fixture.server as unknown as { endpoint: { socket: Socket } };
    const socket = endpoint.socket;
    const ping = Buffer.from([0x40, 0x00, 0x00, 0x01]);
    const get = Buffer.from([0x40, 0x01, 0x00, 0x02]);
    for (const datagram of [ping, get]) {
      expect(() =>
        socket.emit('message', datagram, { address: '::ffff:127.0.0.1', family: 'IPv6', port: 0, size: 4 }),
      ).not.toThrow();
    }
    const peer = await fixture.peer();
    await peer.send({ confirmable: true, code: 'GET', messageId: 3, token });
    expect((await peer.reply({ messageId: 3 })).code).toBe('2.05');
  });
});
