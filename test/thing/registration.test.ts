import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { createServer, request as coapRequest, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { silentLogger } from '../../src/log.js';
import { Thing, type RegistrationMode } from '../../src/thing/index.js';
import { freeUdpPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const log = silentLogger();

interface Seen {
  method: string;
  url: string;
  port: number;
  payload: string;
  ct: unknown;
}

/** A scripted RD on the `coap` package: records every request and answers what `answer` says. */
async function fakeRd(
  answer: (seen: Seen, res: OutgoingMessage) => void,
): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: OutgoingMessage) => {
    const entry = {
      method: req.method,
      url: req.url,
      port: req.rsinfo.port,
      payload: req.payload.toString(),
      ct: req.headers['Content-Format'],
    };
    seen.push(entry);
    answer(entry, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server._sock as dgram.Socket).address().port;
  return { server, port, seen };
}

const created = (res: OutgoingMessage): void => {
  res.code = '2.01';
  res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from('7')]);
  res.end();
};

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function startThing(rdPort: number, registration: RegistrationMode, lifetime = 100): Promise<Thing> {
  const thing = new Thing({
    log,
    name: 'node1',
    sensorIntervalMs: 0,
    rd: { host: '127.0.0.1', port: rdPort },
    registration,
    lifetime,
  });
  cleanup.push(() => thing.stop());
  await thing.start();
  return thing;
}

describe('thing registration with an RD', () => {
  it('registers fully from its own port (RFC 9176 §5.3), updates before lt runs out, re-registers after 4.04', async () => {
    let updates = 0;
    const rd = await fakeRd((seen, res) => {
      if (seen.method === 'POST' && seen.url.startsWith('/rd?')) return created(res);
      if (seen.method === 'POST' && seen.url === '/rd/7') {
        res.code = ++updates === 1 ? '2.04' : '4.04';
        return res.end();
      }
      res.code = '4.05';
      res.end();
    });
    cleanup.push(() => void rd.server.close());
    const thing = await startThing(rd.port, 'full', 1);
    await waitFor(() => rd.seen.filter((s) => s.url.startsWith('/rd?')).length >= 2, { what: 'a re-registration' });
    const [first, update, refused, again] = rd.seen;
    expect(first).toMatchObject({
      method: 'POST',
      url: '/rd?ep=node1&lt=1',
      port: thing.address().port,
      ct: 'application/link-format',
    });
    expect(parseLinkFormat(first!.payload).map((l) => l.href)).toContain('/sensors/temp');
    expect(update).toMatchObject({ method: 'POST', url: '/rd/7', payload: '' });
    expect(refused).toMatchObject({ method: 'POST', url: '/rd/7' });
    expect(again).toMatchObject({ method: 'POST', url: '/rd?ep=node1&lt=1' });
    await waitFor(() => thing.location === '/rd/7', { what: 'the location' });
  });

  it('removes its registration when stopped cleanly (RFC 9176 §5.3.2)', async () => {
    const rd = await fakeRd((seen, res) => {
      if (seen.method === 'POST') return created(res);
      res.code = '2.02';
      res.end();
    });
    cleanup.push(() => void rd.server.close());
    const thing = await startThing(rd.port, 'full');
    await waitFor(() => thing.location, { what: 'registration' });
    await thing.stop();
    expect(rd.seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/rd/7' });
  });

  it('registers simply (RFC 9176 §5.1): empty POST, then the RD fetches /.well-known/core from the source address', async () => {
    let fetched = '';
    const rd = await fakeRd((seen, res) => {
      res.code = '2.04';
      res.end();
      const get = coapRequest({ hostname: '127.0.0.1', port: seen.port, pathname: '/.well-known/core' });
      get.on('response', (reply: IncomingMessage) => (fetched = reply.payload.toString()));
      get.end();
    });
    cleanup.push(() => void rd.server.close());
    await startThing(rd.port, 'simple');
    await waitFor(() => fetched, { what: 'the RD to read the links' });
    expect(rd.seen[0]).toMatchObject({ method: 'POST', url: '/.well-known/rd?ep=node1&lt=100', payload: '' });
    expect(parseLinkFormat(fetched).length).toBe(5);
  });

  it('registers with libcoap coap-rd-notls', async () => {
    const port = await freeUdpPort();
    const rd: ChildProcess = spawn('coap-rd-notls', ['-A', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    cleanup.push(() => void rd.kill('SIGTERM'));
    const thing = new Thing({ log, name: 'node1', sensorIntervalMs: 0, rd: { host: '127.0.0.1', port } });
    cleanup.push(() => thing.stop());
    const registered = new Promise<string | null>((resolve) => thing.once('registered', resolve));
    await thing.start();
    expect(await registered).toMatch(/^\/rd\/.+/);
  });

  it('retries while the RD does not answer, and stops cleanly meanwhile', async () => {
    const port = await freeUdpPort();
    const silentRd = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silentRd.bind(port, '127.0.0.1', resolve));
    cleanup.push(() => void silentRd.close());
    const thing = new Thing({ log, name: 'node1', sensorIntervalMs: 0, rd: { host: '127.0.0.1', port } });
    let received = 0;
    silentRd.on('message', () => received++);
    await thing.start();
    await waitFor(() => received >= 1, { what: 'a registration attempt' });
    await thing.stop();
    expect(thing.location).toBeUndefined();
  });
});
