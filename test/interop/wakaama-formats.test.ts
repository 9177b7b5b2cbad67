import { afterEach, describe, expect, it } from 'vitest';
import { decodePayload } from '../../src/coap/content-format.js';
import type { Message } from '../../src/coap/message.js';
import { allStrings, encodeUint, OptionNumber, uintOption } from '../../src/coap/options.js';
import { RawPeer } from '../coap/raw-peer.js';
import { freeUdpPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { runWakaama, WAKAAMA, wakaamaClient, type WakaamaProcess } from './wakaama/client.js';

const built = wakaamaClient('UQ');
if ('skip' in built) console.warn(`skipping ${WAKAAMA} content formats: ${built.skip}`);

const path = (text: string) =>
  text
    .split('/')
    .filter(Boolean)
    .map((segment) => ({ number: OptionNumber.uriPath, value: Buffer.from(segment) }));

/**
 * A hand-driven LwM2M server socket: it accepts the registration, then reads resources from the client over
 * the same socket (Wakaama accepts datagrams only from the server address it registered to). The bytes
 * decoded here are the ones a real LwM2M stack produced.
 */
describe.skipIf('skip' in built)(`${WAKAAMA}: payloads a real LwM2M stack produces`, () => {
  let client: WakaamaProcess | undefined;
  let server: RawPeer | undefined;
  afterEach(async () => {
    await client?.stop();
    await server?.close();
  });

  it('registers in queue mode (b=U&Q) with object links, and serves SenML JSON and text that decode by path', async () => {
    let registration: Message | undefined;
    const replies = new Map<string, Message>();
    server = await new RawPeer((message, peer) => {
      if (message.code === '0.02' && registration === undefined) {
        registration = message;
        peer.send({
          type: 'ACK',
          code: '2.01',
          messageId: message.messageId,
          token: message.token,
          options: [
            { number: OptionNumber.locationPath, value: Buffer.from('rd') },
            { number: OptionNumber.locationPath, value: Buffer.from('w1') },
          ],
          payload: Buffer.alloc(0),
        });
      } else if (message.type === 'ACK' && message.token.length > 0) {
        replies.set(message.token.toString(), message);
      }
    }).start();
    const localPort = await freeUdpPort();
    client = runWakaama((built as { path: string }).path, {
      serverPort: server.port,
      localPort,
      endpoint: 'wk-formats',
      lifetime: 300,
    });
    await waitFor(() => registration, { what: 'the registration' });
    const query = allStrings(registration!.options, OptionNumber.uriQuery);
    expect(query).toEqual(expect.arrayContaining(['ep=wk-formats', 'b=U', 'Q', 'lwm2m=1.1']));
    expect(registration!.payload.toString()).toContain('</3/0>');

    const get = (token: string, target: string, accept: number) =>
      server!.send(
        {
          type: 'CON',
          code: '0.01',
          messageId: 0x4000 + token.charCodeAt(0),
          token: Buffer.from(token),
          options: [...path(target), { number: OptionNumber.accept, value: encodeUint(accept) }],
          payload: Buffer.alloc(0),
        },
        localPort,
        '127.0.0.1',
      );
    get('a', '/3/0', 110);
    get('b', '/3/0/0', 0);
    await waitFor(() => replies.size === 2, { what: 'both replies' });

    const senml = replies.get('a')!;
    expect(senml.code).toBe('2.05');
    expect(uintOption(senml.options, OptionNumber.contentFormat)).toBe(110);
    const records = decodePayload(110, senml.payload, '/3/0').value as Array<{ n: string; vs?: string; v?: number }>;
    expect(records).toContainEqual({ n: '/3/0/0', vs: 'Open Mobile Alliance' });
    expect(records).toContainEqual({ n: '/3/0/6/1', v: 5 });

    const text = replies.get('b')!;
    expect(uintOption(text.options, OptionNumber.contentFormat)).toBe(0);
    expect(decodePayload(0, text.payload, '/3/0/0')).toEqual({ value: 'Open Mobile Alliance' });
  });
});
