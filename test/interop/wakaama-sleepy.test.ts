import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, stopProcess } from '../helpers/cli.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { datagramsSeen, isPing, startWakaama, WAKAAMA, wakaamaClient, type WakaamaProcess } from './wakaama/client.js';

const queueMode = wakaamaClient('UQ');
const plain = wakaamaClient('U');
const skip = 'skip' in queueMode ? queueMode.skip : 'skip' in plain ? plain.skip : undefined;
if (skip) console.warn(`skipping ${WAKAAMA} queue mode: ${skip}`);

/**
 * Wakaama in LwM2M 1.1 queue mode (`b=U&Q`) against `coregate start`: the gateway holds it asleep between its
 * registration updates, never pings it, and delivers queued commands right after an update. A second client in
 * plain `U` binding beside it is pinged, which shows the count at the device would see a ping.
 */
const KEY = 'coregate-dev-key';
let dir: string;
let gateway: ChildProcess | undefined;
let log = '';
let hubPort: number;
let sleeper: WakaamaProcess | undefined;
let awake: WakaamaProcess | undefined;

function hub(pathname: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${hubPort}${pathname}`, {
    ...init,
    headers: { 'X-API-Key': KEY, 'content-type': 'application/json', ...init.headers },
  });
}

interface DeviceView {
  id: string;
  ep: string;
  status: string;
  sleepy?: boolean;
  registration?: { attrs: Record<string, string | true> } | null;
  resources: Array<{ href: string }>;
}

async function device(ep: string): Promise<DeviceView> {
  return waitFor(
    async () => {
      const body = (await (await hub('/v1/devices')).json()) as { devices: DeviceView[] };
      return body.devices.find((d) => d.ep === ep);
    },
    { what: `${ep} at the hub`, timeoutMs: 20_000 },
  );
}

beforeAll(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-wakaama-q-'));
  hubPort = await freeTcpPort();
  const rdPort = await freeUdpPort();
  const config = {
    db: path.join(dir, 'gateway.db'),
    coap: { bind: '127.0.0.1', port: rdPort },
    discovery: { enabled: false },
    pinger: { intervalSeconds: 1, jitter: 0, timeoutMs: 500 },
    sleepy: { awakeWindowSeconds: 2 },
    platform: { gatewayId: 'gw-wakaama-q' },
    hub: { port: hubPort, db: path.join(dir, 'hub.db') },
  };
  fs.writeFileSync(path.join(dir, 'gateway.config.json'), JSON.stringify(config));
  gateway = startCli(['start', '--config', path.join(dir, 'gateway.config.json')]);
  gateway.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  gateway.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitFor(() => log.includes('platform link online'), { what: 'gateway online', timeoutMs: 20_000 });
  // lt 10: Wakaama sends its registration update well before the lifetime runs out, every few seconds.
  const common = { serverPort: rdPort, lifetime: 10 };
  sleeper = await startWakaama((queueMode as { path: string }).path, { ...common, endpoint: 'wk-queue' });
  awake = await startWakaama((plain as { path: string }).path, { ...common, endpoint: 'wk-plain' });
});

afterAll(async () => {
  await sleeper?.stop();
  await awake?.stop();
  if (gateway) await stopProcess(gateway);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)(`${WAKAAMA} in queue mode (b=U&Q) against coregate start`, () => {
  it('is shown with its LwM2M registration (lwm2m, b, Q, object links), as sleepy, asleep between updates', async () => {
    const view = await device('wk-queue');
    expect(view.sleepy).toBe(true);
    expect(view.registration?.attrs).toMatchObject({ lwm2m: '1.1', b: 'U', Q: true });
    expect(view.resources.map((r) => r.href)).toEqual(expect.arrayContaining(['/3/0', '/1/0']));
    expect((await device('wk-plain')).sleepy).toBe(false);
    await waitFor(async () => (await device('wk-queue')).status === 'asleep', { what: 'asleep', timeoutMs: 15_000 });
  });

  it('delivers queued commands after its next update, in order, and decodes its SenML reply by path', async () => {
    const { id } = await device('wk-queue');
    await waitFor(async () => (await device('wk-queue')).status === 'asleep', { what: 'asleep', timeoutMs: 15_000 });
    const send = async (body: object): Promise<string> => {
      const res = await hub(`/v1/devices/${id}/send`, {
        method: 'POST',
        body: JSON.stringify({ ...body, queue: true }),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const write = await send({ method: 'PUT', path: '/3/0/14', payload: '+05:00', ct: 0 });
    const read = await send({ method: 'GET', path: '/3/0/14', accept: 0 });
    const device3 = await send({ method: 'GET', path: '/3/0', accept: 110 });
    const finished = async (command: string) =>
      waitFor(
        async () => {
          const view = (await (await hub(`/v1/commands/${command}`)).json()) as {
            status: string;
            result?: { code: string; payload: unknown };
          };
          return ['done', 'failed', 'expired'].includes(view.status) ? view : undefined;
        },
        { what: `command ${command}`, timeoutMs: 30_000 },
      );
    expect(await finished(write)).toMatchObject({ status: 'done', result: { code: '2.04' } });
    expect(await finished(read)).toMatchObject({ status: 'done', result: { code: '2.05', payload: '+05:00' } });
    const senml = await finished(device3);
    expect(senml.result?.payload).toEqual(expect.arrayContaining([{ n: '/3/0/0', vs: 'Open Mobile Alliance' }]));
  });

  it('is never pinged, while the client in binding U is', async () => {
    await waitFor(() => datagramsSeen(awake!.output()).filter(isPing).length >= 2, {
      what: 'pings at the U client',
      timeoutMs: 15_000,
    });
    const seen = datagramsSeen(sleeper!.output());
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter(isPing)).toEqual([]);
  });
});
