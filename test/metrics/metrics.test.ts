import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeTcpPort } from '../helpers/ports.js';
import { LoggedProcess, logPorts } from '../helpers/processes.js';
import { PROMTOOL, promtoolCheck, sample } from '../helpers/prometheus.js';
import { waitFor } from '../helpers/wait.js';

/**
 * /metrics, /healthz and /readyz as processes: a standalone `coregate hub`, a `coregate start` gateway linked to it
 * with its own metrics listener (metrics.port), and `coregate thing` registering with it. Each exposition passes
 * `promtool check metrics`, and the figures move as the test drives the gateway.
 */
const KEY = 'metrics-test-key';
const hasPromtool = fs.existsSync(PROMTOOL);
if (!hasPromtool) console.warn(`skipping the promtool checks: ${PROMTOOL} is missing (apt-get install prometheus)`);

let dir: string;
let hub: LoggedProcess;
let gateway: LoggedProcess;
let things: LoggedProcess | undefined;
let hubUrl: string;
let gatewayUrl: string;

async function scrape(base: string, key: string | null = KEY): Promise<Response> {
  return fetch(`${base}/metrics`, key === null ? {} : { headers: { 'X-API-Key': key } });
}

async function metricsText(base: string): Promise<string> {
  const res = await scrape(base);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-metrics-'));
  const hubPort = await freeTcpPort();
  const config = {
    db: path.join(dir, 'gateway.db'),
    log: { level: 'info' },
    coap: { bind: '127.0.0.1', port: 0 },
    discovery: { enabled: false },
    pinger: { intervalSeconds: 1, timeoutMs: 300, missesBeforeOffline: 1, jitter: 0 },
    platform: {
      url: `ws://127.0.0.1:${hubPort}/v1/gateway`,
      gatewayId: 'gw-metrics',
      secret: 'gw-metrics-secret',
      reconnectMinMs: 100,
      reconnectMaxMs: 300,
    },
    hub: { port: hubPort, db: path.join(dir, 'hub.db'), apiKey: KEY, gateways: { 'gw-metrics': 'gw-metrics-secret' } },
    metrics: { port: 0 },
  };
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  hub = new LoggedProcess(['hub', '-c', file]);
  hubUrl = `http://127.0.0.1:${await hub.number(logPorts.hub, 'the hub to listen')}`;
  gateway = new LoggedProcess(['start', '-c', file]);
  gatewayUrl = `http://127.0.0.1:${await gateway.number(logPorts.metrics, 'the gateway metrics listener')}`;
});

afterAll(async () => {
  await things?.stop();
  await gateway?.stop();
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('health', () => {
  it('answers /healthz and /readyz without a key, ready once the store, the RD and the link are up', async () => {
    const health = await fetch(`${gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await waitFor(
      async () => {
        const res = await fetch(`${gatewayUrl}/readyz`);
        return res.status === 200 ? res.json() : undefined;
      },
      { what: 'the gateway to be ready', timeoutMs: 20_000 },
    );
    expect(ready).toEqual({ status: 'ready', checks: { store: 'ok', rd: 'ok', platform_link: 'ok' } });
    const hubReady = await fetch(`${hubUrl}/readyz`);
    expect(hubReady.status).toBe(200);
    expect(await hubReady.json()).toEqual({ status: 'ready', checks: { hub_db: 'ok', gateways_known: 'ok' } });
    expect((await fetch(`${hubUrl}/healthz`)).status).toBe(200);
  });

  it('serves nothing else on the gateway listener', async () => {
    expect((await fetch(`${gatewayUrl}/v1/devices`, { headers: { 'X-API-Key': KEY } })).status).toBe(404);
  });
});

describe('/metrics', () => {
  it('needs the API key on both the gateway and the hub', async () => {
    for (const base of [gatewayUrl, hubUrl]) {
      expect((await scrape(base, null)).status).toBe(401);
      expect((await scrape(base, 'wrong')).status).toBe(401);
      expect((await scrape(base)).status).toBe(200);
    }
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics on the gateway and on the hub', async () => {
    for (const base of [gatewayUrl, hubUrl]) {
      const text = await metricsText(base);
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    }
  });

  it('moves as things register, a command runs and the link drops', async () => {
    const before = await metricsText(gatewayUrl);
    expect(sample(before, 'coregate_registrations_total')).toBe(0);
    expect(sample(before, 'coregate_platform_link_up')).toBe(1);
    expect(sample(before, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(sample(before, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

    const rdPort = await gateway.number(logPorts.rd, 'the RD port');
    things = new LoggedProcess(['thing', '--count', '2', '--rd', `coap://127.0.0.1:${rdPort}`, '--interval', '200']);
    const registered = await waitFor(
      async () => {
        const text = await metricsText(gatewayUrl);
        return sample(text, 'coregate_devices', { status: 'online' }) === 2 &&
          (sample(text, 'coregate_observer_values_total', { source: 'notification' }) ?? 0) > 0 &&
          (sample(text, 'coregate_pinger_pings_total', { result: 'answered' }) ?? 0) > 0
          ? text
          : undefined;
      },
      { what: 'two devices online, observed and pinged', timeoutMs: 20_000 },
    );
    expect(sample(registered, 'coregate_registrations_total')).toBe(2);
    expect(sample(registered, 'coregate_rd_requests_total', { interface: 'registration', code: '2.01' })).toBe(2);
    expect(sample(registered, 'coregate_rd_request_duration_seconds_count', { interface: 'registration' })).toBe(2);
    expect(sample(registered, 'coregate_observer_active_tasks', { mode: 'observe' })).toBeGreaterThanOrEqual(2);
    expect(sample(registered, 'coregate_pinger_rounds_total')).toBeGreaterThan(0);

    const devices = (await (await fetch(`${hubUrl}/v1/devices`, { headers: { 'X-API-Key': KEY } })).json()) as {
      devices: Array<{ id: string }>;
    };
    const id = devices.devices[0]!.id;
    const hubBefore = await metricsText(hubUrl);
    const sendRoute = { method: 'POST', route: '/v1/devices/:id/send', status: '200' };
    const sendsBefore = sample(hubBefore, 'coregate_hub_http_request_duration_seconds_count', sendRoute) ?? 0;
    const reply = await fetch(`${hubUrl}/v1/devices/${id}/send`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY },
      body: JSON.stringify({ method: 'GET', path: '/sensors/temp' }),
    });
    expect(reply.status).toBe(200);
    const afterCommand = await metricsText(gatewayUrl);
    expect(sample(afterCommand, 'coregate_commands_total', { result: 'success' })).toBe(1);
    expect(sample(afterCommand, 'coregate_command_duration_seconds_count', { result: 'success' })).toBe(1);
    const hubAfter = await metricsText(hubUrl);
    expect(sample(hubAfter, 'coregate_hub_http_request_duration_seconds_count', sendRoute)).toBe(sendsBefore + 1);
    expect(sample(hubAfter, 'coregate_hub_gateways_connected')).toBe(1);
    expect(sample(hubAfter, 'coregate_hub_published_total', { kind: 'device' })).toBeGreaterThanOrEqual(2);
    expect(sample(hubAfter, 'coregate_hub_published_total', { kind: 'telemetry' })).toBeGreaterThan(0);

    // The things vanish without deregistering (SIGKILL): the Pinger misses them and takes them offline.
    things.child.kill('SIGKILL');
    await things.stop();
    things = undefined;
    const offline = await waitFor(
      async () => {
        const text = await metricsText(gatewayUrl);
        return sample(text, 'coregate_devices', { status: 'offline' }) === 2 ? text : undefined;
      },
      { what: 'both devices offline', timeoutMs: 20_000 },
    );
    expect(sample(offline, 'coregate_pinger_pings_total', { result: 'missed' })).toBeGreaterThanOrEqual(2);
    expect(sample(offline, 'coregate_device_status_changes_total', { status: 'offline' })).toBe(2);

    // The hub goes away: the link is down, the gateway is not ready and reconnects.
    await hub.stop();
    const down = await waitFor(
      async () => {
        const res = await fetch(`${gatewayUrl}/readyz`);
        return res.status === 503 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
      },
      { what: 'the gateway to report not ready', timeoutMs: 10_000 },
    );
    expect(down.checks.platform_link).toMatch(/^the platform link is (offline|connecting|authenticating)$/);
    const linkDown = await waitFor(
      async () => {
        const text = await metricsText(gatewayUrl);
        return (sample(text, 'coregate_platform_reconnects_total') ?? 0) >= 2 ? text : undefined;
      },
      { what: 'reconnect attempts counted' },
    );
    expect(sample(linkDown, 'coregate_platform_link_up')).toBe(0);
    expect(sample(linkDown, 'coregate_outbox_entries')).toBeGreaterThanOrEqual(0);
  });
});
