import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapError, type CoapRequest } from '../../src/coap/types.js';
import { ServerPeer } from './server-peer.js';
import { startServer, type Fixture } from './server-fixture.js';

const GROUP = '224.0.1.187';

let fixture: Fixture | undefined;
let sender: ServerPeer | undefined;
afterEach(async () => {
  await sender?.close();
  await fixture?.close();
  fixture = sender = undefined;
});

describe('CoapServer multicast (RFC 7252 §8)', () => {
  it('marks requests to a joined group as multicast, handles each once and suppresses error replies', async () => {
    const seen: CoapRequest[] = [];
    fixture = await startServer(
      (request) => {
        seen.push(request);
        if (request.path[1] === 'missing') throw new CoapError('4.04', 'no such thing');
        return { code: '2.05', payload: 'here' };
      },
      { multicastGroups: [{ group: GROUP, interface: '127.0.0.1' }] },
    );
    sender = await ServerPeer.open(GROUP, fixture.port, { multicastInterface: '127.0.0.1' });
    // Other suites on this machine multicast on the same group: our requests carry a nonce to be told apart.
    const nonce = randomUUID();
    const path = (segment: string) =>
      [nonce, segment].map((value) => ({ name: 'Uri-Path' as const, value: Buffer.from(value) }));
    const ours = () => seen.filter((r) => r.path[0] === nonce).map((r) => [r.path[1], r.multicast]);
    await sender.send({ code: 'GET', messageId: 1, token: Buffer.from([1]), options: path('missing') });
    await sender.send({ code: 'GET', messageId: 2, token: Buffer.from([2]), options: path('here') });
    const reply = await sender.reply({ token: Buffer.from([2]) });
    expect(reply.payload.toString()).toBe('here');
    expect(sender.replies.map((r) => r.token[0])).toEqual([2]);
    expect(ours()).toEqual([
      ['missing', true],
      ['here', true],
    ]);

    const unicast = await fixture.peer();
    await unicast.send({ confirmable: true, code: 'GET', messageId: 3, options: path('missing') });
    expect((await unicast.reply({ messageId: 3 })).code).toBe('4.04');
    expect(ours().at(-1)).toEqual(['missing', false]);
  });

  it('still serves unicast when a group cannot be joined (IPv6 link-local group without a zone)', async () => {
    fixture = await startServer(() => ({ code: '2.05', payload: 'up' }), {
      multicastGroups: [{ group: 'ff02::fd' }, { group: GROUP, interface: '127.0.0.1' }],
    });
    const unicast = await fixture.peer();
    await unicast.send({ confirmable: true, code: 'GET', messageId: 1 });
    expect((await unicast.reply({ messageId: 1 })).payload.toString()).toBe('up');
    expect(fixture.logLines.filter((line) => line.includes('cannot join multicast group'))).toHaveLength(1);
  });
});
