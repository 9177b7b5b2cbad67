import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, stopProcess } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The README's quick start, as processes: `coregate start` on its defaults (embedded hub), simulated things
 * registering with it, then the HTTP API and the CLI. Ports are ephemeral; everything else is the default.
 */
const KEY = 'coregate-dev-key';
let dir: string;
let gateway: ChildProcess;
let things: ChildProcess | undefined;
let gatewayLog = '';
let env: Record<string, string>;

function portFromLog(pattern: RegExp): number | undefined {
  const match = pattern.exec(gatewayLog);
  return match ? Number(match[1]) : undefined;
}

interface DeviceView {
  id: string;
  ep: string | null;
  status: string;
  resources: Array<{ href: string }>;
}

async function hub(pathname: string, init: RequestInit = {}): Promise<Response> {
  const port = portFromLog(/"port":(\d+),"tls":\w+,"msg":"hub listening"/)!;
  return fetch(`http://127.0.0.1:${port}${pathname}`, { ...init, headers: { 'X-API-Key': KEY, ...init.headers } });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-quickstart-'));
  env = {
    COREGATE_DB: path.join(dir, 'gateway.db'),
    COREGATE_HUB_DB: path.join(dir, 'hub.db'),
    COREGATE_COAP_PORT: '0',
    COREGATE_HUB_PORT: '0',
    COREGATE_DISCOVERY: 'off',
    COREGATE_GATEWAY_ID: 'gw-quickstart',
  };
  gateway = startCli(['start'], env);
  gateway.stdout!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()));
  gateway.stderr!.on('data', (chunk: Buffer) => (gatewayLog += chunk.toString()));
  await waitFor(() => gatewayLog.includes('platform link online'), { what: 'gateway online', timeoutMs: 20_000 });
});

afterAll(async () => {
  if (things) await stopProcess(things);
  if (gateway) await stopProcess(gateway);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('quick start', () => {
  it('logs what listens where', () => {
    expect(gatewayLog).toMatch(/resource directory listening on udp :: port \d+/);
    expect(gatewayLog).toMatch(/embedded hub: HTTP API on http:\/\/127\.0\.0\.1:\d+\/v1\/devices/);
  });

  it('serves the dashboard at / and health without the key', async () => {
    const page = await hub('/', { headers: { 'X-API-Key': '' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<script type="module" src="/dashboard/main.js"></script>');
    expect((await hub('/healthz', { headers: { 'X-API-Key': '' } })).status).toBe(200);
  });

  it('registers simulated things, shows them online with their telemetry, and runs a command end to end', async () => {
    const rdPort = portFromLog(/resource directory listening on udp :: port (\d+)/)!;
    things = startCli(['thing', '--count', '2', '--rd', `coap://127.0.0.1:${rdPort}`, '--interval', '200']);

    const devices = await waitFor(
      async () => {
        const body = (await (await hub('/v1/devices')).json()) as { devices: DeviceView[] };
        return body.devices.length === 2 && body.devices.every((d) => d.status === 'online') ? body.devices : undefined;
      },
      { what: 'two devices online at the hub', timeoutMs: 20_000 },
    );
    expect(devices.map((d) => d.ep).sort()).toEqual(['thing-1', 'thing-2']);
    expect(devices[0]!.resources.map((r) => r.href)).toContain('/sensors/temp');

    await waitFor(() => /"event":"telemetry".*"path":"\/sensors\/temp"/.test(gatewayLog), {
      what: 'telemetry in the gateway log',
    });
    expect(gatewayLog).toMatch(/device\.registered thing-1/);

    const id = devices.find((d) => d.ep === 'thing-1')!.id;
    const put = await hub(`/v1/devices/${id}/send`, {
      method: 'POST',
      body: JSON.stringify({ method: 'PUT', path: '/actuators/led', payload: { on: true } }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ status: 'ok', device: id, code: '2.04' });

    const get = await hub(`/v1/devices/${id}/send`, {
      method: 'POST',
      body: JSON.stringify({ method: 'GET', path: '/actuators/led' }),
    });
    expect(await get.json()).toMatchObject({ code: '2.05', ct: 50, payload: { on: true } });

    const listed = await runCli(['devices', '--json'], env);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as DeviceView[];
    expect(rows.map((d) => d.ep).sort()).toEqual(['thing-1', 'thing-2']);
  });

  it('refuses a wrong API key and an unknown device with clear statuses', async () => {
    const wrongKey = await hub('/v1/devices', { headers: { 'X-API-Key': 'nope' } });
    expect(wrongKey.status).toBe(401);
    const unknown = await hub('/v1/devices/nosuchdevice/send', {
      method: 'POST',
      body: JSON.stringify({ method: 'GET', path: '/x' }),
    });
    expect(unknown.status).toBe(404);
  });
});

describe('bad configuration', () => {
  it('exits with code 2 and one line naming the key', async () => {
    const file = path.join(os.tmpdir(), `coregate-bad-${process.pid}.json`);
    fs.writeFileSync(file, JSON.stringify({ coap: { prot: 1 } }));
    const run = await runCli(['start', '-c', file]);
    fs.rmSync(file);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/coap: Unrecognized key.*prot/);
  });

  it('exits with code 2 on an unknown flag', async () => {
    const run = await runCli(['start', '--bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown option '--bogus'/);
  });
});
