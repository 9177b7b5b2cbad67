import { encode as cbor } from 'cbor-x';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentFormat } from '../../src/coap/types.js';
import { waitFor } from '../helpers/wait.js';
import { ObserverFixture } from './fixture.js';
import { Peer, reply } from './peer.js';

const opened: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const item of opened.splice(0)) await item.close();
});

async function open<T extends { close(): Promise<void> }>(item: T): Promise<T> {
  opened.push(item);
  return item;
}

describe('Observer fallbacks and decoding', () => {
  it('polls a stream that went quiet past its Max-Age while it keeps trying to observe again', async () => {
    // A device that accepts one observer, never notifies, and silently ignores every later observe
    // request (as one that lost its observer table would), but still answers plain GETs.
    let reading = 0;
    let observed = false;
    const peer = await open(
      await new Peer({
        '/q': (_req, res, observe) => {
          if (observe === 0 && observed) return;
          if (observe === 0) observed = true;
          res.setOption('Max-Age', 1);
          reply(res, ContentFormat.json, JSON.stringify({ reading: reading++ }), 1);
        },
      }).start(),
    );
    const fx = await open(new ObserverFixture({ requestTimeoutMs: 300 }));
    await fx.observer.start();
    const { id } = fx.register('quiet', peer.address, [{ href: '/q', attrs: { obs: true } }]);

    await waitFor(() => fx.values(id, '/q').length >= 4, { what: 'values from polling', timeoutMs: 15_000 });
    const readings = fx.values(id, '/q').map((v) => (v as { reading: number }).reading);
    expect(readings).toEqual([...readings].sort((a, b) => a - b));
    expect(new Set(readings).size).toBe(readings.length);
    const plainGets = peer.requests.filter((r) => r.observe === undefined).length;
    const reObserves = peer.requests.filter((r) => r.observe === 0).length - 1;
    expect(plainGets).toBeGreaterThanOrEqual(3);
    expect(reObserves).toBeGreaterThanOrEqual(1);
  });

  it('decodes telemetry by Content-Format: text, JSON, CBOR, SenML JSON, SenML CBOR, else base64', async () => {
    const senml = [{ bn: 'urn:dev:x:', n: 'temp', u: 'Cel', v: 21.5 }];
    const payloads: Record<string, [number, Buffer | string]> = {
      '/text': [ContentFormat.text, 'hello'],
      '/json': [ContentFormat.json, JSON.stringify({ a: 1 })],
      '/cbor': [ContentFormat.cbor, cbor({ a: [1, 2], b: 'x' })],
      '/senml-json': [ContentFormat.senmlJson, JSON.stringify(senml)],
      // RFC 8428 §6: SenML CBOR labels are integers (bn -2, n 0, u 1, v 2).
      '/senml-cbor': [
        ContentFormat.senmlCbor,
        cbor([
          new Map<number, unknown>([
            [-2, 'urn:dev:x:'],
            [0, 'temp'],
            [1, 'Cel'],
            [2, 21.5],
          ]),
        ]),
      ],
      '/bytes': [ContentFormat.octetStream, Buffer.from([1, 2, 3])],
    };
    const handlers = Object.fromEntries(
      Object.entries(payloads).map(([path, [ct, body]]) => [path, (_req, res) => reply(res, ct, body)] as const),
    ) as ConstructorParameters<typeof Peer>[0];
    const peer = await open(await new Peer(handlers).start());
    const fx = await open(
      new ObserverFixture({ poll: Object.keys(payloads).map((path) => ({ path, intervalSeconds: 60 })) }),
    );
    await fx.observer.start();
    const { id } = fx.register(
      'formats',
      peer.address,
      Object.keys(payloads).map((href) => ({ href, attrs: {} })),
    );
    await waitFor(() => fx.telemetry.length === Object.keys(payloads).length, { what: 'one value per resource' });
    const byPath = Object.fromEntries(fx.telemetry.map((t) => [t.path, t]));
    expect(byPath['/text']).toMatchObject({ device: id, ct: 0, value: 'hello' });
    expect(byPath['/json']).toMatchObject({ ct: 50, value: { a: 1 } });
    expect(byPath['/cbor']).toMatchObject({ ct: 60, value: { a: [1, 2], b: 'x' } });
    // SenML arrives resolved (RFC 8428 §4.6): base name folded into the name.
    const resolved = [{ n: 'urn:dev:x:temp', u: 'Cel', v: 21.5 }];
    expect(byPath['/senml-json']).toMatchObject({ ct: 110, value: resolved });
    expect(byPath['/senml-cbor']).toMatchObject({ ct: 112, value: resolved });
    expect(byPath['/bytes']).toMatchObject({ ct: 42, value: 'AQID', encoding: 'base64' });
    for (const t of fx.telemetry) if (t.path !== '/bytes') expect(t.encoding).toBeUndefined();
  });
});
