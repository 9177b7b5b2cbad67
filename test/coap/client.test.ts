import { describe, expect, it } from 'vitest';
import type { CoapClient } from '../../src/coap/client.js';
import { outgoingRequest } from '../../src/coap/exchange.js';
import { OptionNumber } from '../../src/coap/options.js';
import { CoapResetError, CoapTransportError } from '../../src/coap/types.js';
import { waitFor } from '../helpers/wait.js';
import { startLibcoapServer } from './libcoap.js';
import { empty } from './raw-peer.js';
import { clientFixture, expectTimeoutAtDeadline } from './fixture.js';
import { libcoapServerMissing } from '../helpers/tools.js';

const fixture = clientFixture({ libcoapArgs: ['-d', '10'] });
const { rawPeer } = fixture;
let client: CoapClient;

describe.skipIf(libcoapServerMissing() !== undefined)('CoapClient.request against libcoap coap-server-notls', () => {
  it('GETs the root resource (piggybacked 2.05, text/plain)', async () => {
    client = fixture.newClient();
    const reply = await client.request({ host: '127.0.0.1', port: fixture.libcoapPort, method: 'GET', path: '/' });
    expect(reply.code).toBe('2.05');
    expect(reply.payload.toString()).toContain('libcoap');
    expect(reply.source).toEqual({ address: '127.0.0.1', port: fixture.libcoapPort, family: 'IPv4' });
  });

  it('downloads a Block2 resource in full', async () => {
    client = fixture.newClient();
    const reply = await client.request({
      host: '127.0.0.1',
      port: fixture.libcoapPort,
      method: 'GET',
      path: '/example_data',
    });
    expect(reply.code).toBe('2.05');
    expect(reply.payload.length).toBe(1500);
    const pattern = Array.from({ length: 26 }, (_, i) => `${String.fromCharCode(97 + i)}123456789`).join('');
    expect(reply.payload.toString()).toBe(pattern.repeat(6).slice(0, 1500));
  });

  it('uploads 5 KB with Block1 and reads it back with Block2', async () => {
    client = fixture.newClient();
    const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
    const target = { host: '127.0.0.1', port: fixture.libcoapPort, path: '/example_data' };
    const put = await client.request({ ...target, method: 'PUT', payload: body, contentFormat: 0 });
    expect(put.code).toBe('2.04');
    const get = await client.request({ ...target, method: 'GET' });
    expect(get.payload.equals(body)).toBe(true);
  });

  it('creates and deletes a dynamic resource', async () => {
    client = fixture.newClient();
    const target = { host: '127.0.0.1', port: fixture.libcoapPort, path: '/things/one' };
    expect((await client.request({ ...target, method: 'PUT', payload: 'on' })).code).toBe('2.01');
    expect((await client.request({ ...target, method: 'GET' })).payload.toString()).toBe('on');
    expect((await client.request({ ...target, method: 'DELETE' })).code).toBe('2.02');
    expect((await client.request({ ...target, method: 'GET' })).code).toBe('4.04');
  });

  it('answers NON requests too', async () => {
    client = fixture.newClient();
    const reply = await client.request({
      host: '127.0.0.1',
      port: fixture.libcoapPort,
      method: 'GET',
      path: '/',
      confirmable: false,
    });
    expect(reply.code).toBe('2.05');
  });

  it('works from an IPv4-only socket when bound to an IPv4 address', async () => {
    client = fixture.newClient({ bind: '127.0.0.1' });
    expect((await client.address()).family).toBe('IPv4');
    const reply = await client.request({ host: '127.0.0.1', port: fixture.libcoapPort, method: 'GET', path: '/' });
    expect(reply.code).toBe('2.05');
  });

  it('reaches ::1 as well as 127.0.0.1', async () => {
    const v6 = await startLibcoapServer([], '::1');
    client = fixture.newClient();
    try {
      const reply = await client.request({ host: '::1', port: v6.port, method: 'GET', path: '/' });
      expect(reply.code).toBe('2.05');
      expect(reply.source.family).toBe('IPv6');
    } finally {
      await v6.stop();
    }
  });
});

describe('CoapClient.request deadlines and message layer', () => {
  it('rejects with CoapTimeoutError at the deadline when nobody answers', async () => {
    const silent = await rawPeer();
    client = fixture.newClient();
    await expectTimeoutAtDeadline(
      () => client.request({ host: '127.0.0.1', port: silent.port, method: 'GET', path: '/x', timeoutMs: 700 }),
      700,
    );
    // RFC 7252 §4.2: the CON was retransmitted (same message id) within the deadline.
    expect(silent.received.length).toBeGreaterThanOrEqual(2);
    expect(new Set(silent.received.map((message) => message.messageId)).size).toBe(1);
  });

  it('rejects with CoapResetError when the peer answers Reset', async () => {
    const resetting = await rawPeer((message, peer) => peer.send(empty('RST', message.messageId)));
    client = fixture.newClient();
    await expect(
      client.request({ host: '127.0.0.1', port: resetting.port, method: 'GET', path: '/', timeoutMs: 5000 }),
    ).rejects.toBeInstanceOf(CoapResetError);
  });

  it('takes a separate response after an empty ACK and acknowledges it, duplicates included (RFC 7252 §5.2.2, §4.5)', async () => {
    const separate = await rawPeer((message, peer) => {
      if (message.type !== 'CON' || message.code !== '0.01') return;
      peer.send(empty('ACK', message.messageId));
      const response = {
        type: 'CON' as const,
        code: '2.05',
        messageId: 4242,
        token: message.token,
        options: [],
        payload: Buffer.from('late'),
      };
      // The response is sent twice, as after a lost ACK: the duplicate is acknowledged again, not reset.
      setTimeout(() => peer.send(response), 50);
      setTimeout(() => peer.send(response), 100);
    });
    client = fixture.newClient();
    const reply = await client.request({
      host: '127.0.0.1',
      port: separate.port,
      method: 'GET',
      path: '/',
      timeoutMs: 5000,
    });
    expect(reply.payload.toString()).toBe('late');
    await waitFor(
      () => separate.received.filter((message) => message.type === 'ACK' && message.messageId === 4242).length >= 2,
      {
        what: 'two ACKs of the separate response',
      },
    );
    expect(separate.received.some((message) => message.type === 'RST')).toBe(false);
  });

  it('matches responses by peer and token: a forged reply from another port is ignored', async () => {
    const target = await rawPeer();
    const forger = await rawPeer();
    client = fixture.newClient();
    const address = await client.address();
    const pending = client.request({ host: '127.0.0.1', port: target.port, method: 'GET', path: '/', timeoutMs: 5000 });
    const request = await waitFor(() => target.received[0], { what: 'request at target' });
    const answer = (payload: string) => ({
      type: 'ACK' as const,
      code: '2.05',
      messageId: request.messageId,
      token: request.token,
      options: [],
      payload: Buffer.from(payload),
    });
    // RFC 7252 §4.2: an ACK matching nothing is silently ignored; a CON response matching nothing is Reset.
    forger.send(answer('forged'), address.port, '127.0.0.1');
    forger.send({ ...answer('forged'), type: 'CON', messageId: 7 }, address.port, '127.0.0.1');
    await waitFor(() => forger.received.find((message) => message.type === 'RST' && message.messageId === 7), {
      what: 'Reset of the forged response',
    });
    target.send(answer('genuine'));
    expect((await pending).payload.toString()).toBe('genuine');
  });

  it('keeps concurrent requests to many peers apart', async () => {
    const servers = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        rawPeer((message, peer) => {
          const reply = {
            type: 'ACK' as const,
            code: '2.05',
            messageId: message.messageId,
            token: message.token,
            options: [],
            payload: Buffer.from(`peer-${index}`),
          };
          setTimeout(() => peer.send(reply), Math.random() * 30);
        }),
      ),
    );
    client = fixture.newClient();
    const replies = await Promise.all(
      servers.flatMap((server) =>
        [1, 2, 3].map(() =>
          client.request({ host: '127.0.0.1', port: server.port, method: 'GET', path: '/', timeoutMs: 5000 }),
        ),
      ),
    );
    replies.forEach((reply, i) => expect(reply.payload.toString()).toBe(`peer-${Math.floor(i / 3)}`));
  });

  it('rejects pending requests cleanly on close()', async () => {
    const silent = await rawPeer();
    client = fixture.newClient();
    const pending = client.request({
      host: '127.0.0.1',
      port: silent.port,
      method: 'GET',
      path: '/',
      timeoutMs: 10_000,
    });
    await waitFor(() => silent.received.length > 0, { what: 'request sent' });
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(CoapTransportError);
    await expect(
      client.request({ host: '127.0.0.1', port: silent.port, method: 'GET', path: '/' }),
    ).rejects.toBeInstanceOf(CoapTransportError);
  });

  it('sends the request options the caller asked for', async () => {
    const recorder = await rawPeer((message, peer) =>
      peer.send({
        type: 'ACK',
        code: '2.04',
        messageId: message.messageId,
        token: message.token,
        options: [],
        payload: Buffer.alloc(0),
      }),
    );
    client = fixture.newClient();
    await client.request({
      host: '127.0.0.1',
      port: recorder.port,
      method: 'POST',
      path: '/a/b%20c',
      query: ['x=1', 'y'],
      payload: '{}',
      contentFormat: 50,
      accept: 60,
    });
    const [request] = recorder.received;
    const strings = (number: number) =>
      request!.options.filter((o) => o.number === number).map((o) => o.value.toString());
    expect(request!.code).toBe('0.02');
    expect(strings(OptionNumber.uriPath)).toEqual(['a', 'b c']);
    expect(strings(OptionNumber.uriQuery)).toEqual(['x=1', 'y']);
    expect(request!.options.find((o) => o.number === OptionNumber.contentFormat)!.value).toEqual(Buffer.from([50]));
    expect(request!.options.find((o) => o.number === OptionNumber.accept)!.value).toEqual(Buffer.from([60]));
    expect(request!.token.length).toBeGreaterThanOrEqual(4);
  });

  it('splits a query written into the path (RFC 7252 §6.4)', () => {
    const request = outgoingRequest({
      host: 'h',
      port: 1,
      method: 'GET',
      path: '/rd-lookup/res?rt=temp&href=%2Fa',
      query: ['x'],
    });
    const strings = (number: number) =>
      request.options.filter((o) => o.number === number).map((o) => o.value.toString());
    expect(strings(OptionNumber.uriPath)).toEqual(['rd-lookup', 'res']);
    expect(strings(OptionNumber.uriQuery)).toEqual(['rt=temp', 'href=/a', 'x']);
  });
});
