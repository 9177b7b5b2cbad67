import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { LoggedProcess, logPorts } from '../helpers/processes.js';
import { PROMTOOL, promtoolCheck, sample } from '../helpers/prometheus.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core; nothing is downloaded) against a
 * real `coregate start` with its embedded hub and real `coregate thing` processes. Screenshots of each page go to
 * test-output/dashboard/ for a person to look at.
 */
const CHROMIUM = '/usr/bin/chromium';
const KEY = 'dashboard-test-key';
const SHOTS = path.join(ROOT, 'test-output', 'dashboard');
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`skipping the dashboard browser tests: ${CHROMIUM} is missing (apt-get install chromium)`);

let dir: string;
let gateway: LoggedProcess;
let fleet: LoggedProcess;
let lone: LoggedProcess;
let context: BrowserContext;
let page: Page;
let base: string;
let profile: string;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

describe.skipIf(!hasChromium)('dashboard', { timeout: 60_000 }, () => {
  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-dashboard-'));
    const config = {
      db: path.join(dir, 'gateway.db'),
      coap: { bind: '127.0.0.1', port: 0 },
      discovery: { enabled: false },
      pinger: { intervalSeconds: 1, timeoutMs: 300, missesBeforeOffline: 1, jitter: 0 },
      platform: { gatewayId: 'gw-dashboard' },
      hub: {
        port: 0,
        db: path.join(dir, 'hub.db'),
        apiKey: KEY,
        // Nothing listens on the discard port: every delivery fails, and the gateways page must say so.
        webhooks: [{ url: 'http://127.0.0.1:9/hook', events: ['device.*'] }],
      },
    };
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(config));
    gateway = new LoggedProcess(['start', '-c', file]);
    base = `http://127.0.0.1:${await gateway.number(logPorts.hub, 'the embedded hub')}`;
    const rd = `coap://127.0.0.1:${await gateway.number(logPorts.rd, 'the RD port')}`;
    fleet = new LoggedProcess(['thing', '--count', '3', '--rd', rd, '--interval', '300']);
    lone = new LoggedProcess(['thing', '--count', '1', '--name', 'lone', '--rd', rd, '--interval', '0']);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => console.error('page error:', err.message));
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await lone?.stop();
    await fleet?.stop();
    await gateway?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
  });

  it('asks for the API key, refuses a wrong one clearly, and never has it in the page', async () => {
    const html = await (await fetch(`${base}/`)).text();
    expect(html).not.toContain(KEY);
    await page.goto(`${base}/`);
    await page.getByLabel('API key').fill('not-the-key');
    await page.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/refused this API key \(401/);
    await shot('1-wrong-key');
    expect(await page.locator('#view').textContent()).toBe('');
    expect(await page.getByRole('navigation').isVisible()).toBe(false);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    // Browser code as strings: this file is type-checked for Node, without the DOM's globals.
    expect(await page.evaluate('sessionStorage.getItem("coregate.apiKey")')).toBe(KEY);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('lists the devices with their status, and a device going offline changes its row without a reload', async () => {
    const rows = page.locator('tr[data-device-id]');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(4);
    await expect.poll(() => page.locator('tr[data-status="online"]').count(), { timeout: 20_000 }).toBe(4);
    const loneRow = page.locator('tr[data-device-id]', { hasText: 'lone-1' });
    expect(await loneRow.locator('.status').textContent()).toBe('online');
    expect(await page.locator('.counts li[data-status="online"] strong').textContent()).toBe('4');
    await shot('2-devices');

    await page.evaluate('window.marker = "same page"');
    // Each row element is tagged: a change must rewrite its own row in place, not rebuild the table.
    await page.evaluate('document.querySelectorAll("tr[data-device-id]").forEach((tr) => (tr.kept = true))');
    lone.child.kill('SIGKILL');
    await expect.poll(() => loneRow.getAttribute('data-status'), { timeout: 20_000 }).toBe('offline');
    expect(await loneRow.locator('.status').textContent()).toBe('offline');
    expect(await page.locator('.counts li[data-status="offline"] strong').textContent()).toBe('1');
    expect(await page.evaluate('window.marker')).toBe('same page');
    expect(await page.evaluate('[...document.querySelectorAll("tr[data-device-id]")].every((tr) => tr.kept)')).toBe(
      true,
    );
    await shot('3-device-offline');

    await page.getByLabel('Status', { exact: true }).selectOption('offline');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await page.getByLabel('Search').fill('thing-2');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('Search').fill('');
  });

  it('shows a device: its registration, values that change, and a chart that grows', async () => {
    await page.locator('tr[data-device-id]', { hasText: 'thing-1' }).getByRole('link').click();
    await page.getByRole('heading', { name: /thing-1/ }).waitFor();
    expect(await page.locator('dl.registration').textContent()).toContain('lt');
    const value = page.locator('tr[data-path="/sensors/temp"] td.value');
    const first = await waitFor(async () => {
      const text = await value.textContent();
      return text && text !== '—' ? text : undefined;
    });
    expect(first).toMatch(/^-?\d+(\.\d+)? °C$/);
    const chart = page.locator('figure.chart[data-path="/sensors/temp"]');
    await chart.waitFor();
    const points = Number(await chart.getAttribute('data-points'));
    await expect.poll(() => value.textContent(), { timeout: 10_000 }).not.toBe(first);
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 })
      .toBeGreaterThan(points);
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
    await shot('4-device');
  });

  it('sends a command from the form and shows the device reply', async () => {
    await page.getByLabel('Method').selectOption('PUT');
    await page.getByLabel('Path').fill('/actuators/led');
    await page.getByLabel('Payload').fill('{"on": true}');
    await page.getByLabel('Content format').selectOption('50');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.reply-fields').getAttribute('data-code'), { timeout: 10_000 }).toBe('2.04');
    await page.getByLabel('Method').selectOption('GET');
    await page.getByLabel('Payload').fill('');
    await page.getByLabel('Content format').selectOption('');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.reply-fields').getAttribute('data-code'), { timeout: 10_000 }).toBe('2.05');
    expect(await page.locator('pre.payload').textContent()).toContain('"on": true');
    expect(await page.locator('.reply-fields .rtt').textContent()).toMatch(/^\d+(\.\d)? ms$/);
    await shot('5-send');
  });

  it('shows live events, pausable, and the gateways with their link', async () => {
    await page.getByRole('link', { name: 'Live events' }).click();
    await page.getByRole('heading', { name: 'Live events' }).waitFor();
    expect(await page.locator('ol.events li[data-event="command.result"]').count()).toBe(2);
    expect(await page.locator('ol.events li[data-event="device.offline"]').count()).toBeGreaterThanOrEqual(1);
    // Only events: the socket's subscription confirmations are not listed.
    for (const name of await page
      .locator('ol.events li')
      .evaluateAll((items) => items.map((li) => li.getAttribute('data-event')))) {
      expect(name).toMatch(/^(device\.|gateway\.|command\.)/);
    }
    await page.getByRole('button', { name: 'Pause' }).click();
    const shown = await page.locator('ol.events li').count();
    lone = new LoggedProcess([
      'thing',
      '--count',
      '1',
      '--name',
      'lone',
      '--rd',
      /coap:\/\/\S+/.exec(fleet.child.spawnargs.join(' '))![0],
      '--interval',
      '0',
    ]);
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'paused' }).textContent(), { timeout: 20_000 })
      .toMatch(/paused · [1-9]\d* new/);
    expect(await page.locator('ol.events li').count()).toBe(shown);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.locator('ol.events li').count()).toBeGreaterThan(shown);
    await shot('6-events');

    await page.getByRole('link', { name: 'Gateways' }).click();
    const row = page.locator('tr', { hasText: 'gw-dashboard' });
    await row.waitFor();
    expect(await row.locator('.status').textContent()).toBe('connected');
    const hook = page.locator('tr', { hasText: 'http://127.0.0.1:9/hook' });
    expect(Number(await hook.locator('td').nth(2).textContent())).toBeGreaterThan(0);
    await shot('7-gateways');
  });

  it('pages a fleet of hundreds and stays responsive', async () => {
    const rd = /coap:\/\/\S+/.exec(fleet.child.spawnargs.join(' '))![0];
    const bulk = new LoggedProcess(['thing', '--count', '300', '--name', 'bulk', '--rd', rd, '--interval', '0']);
    try {
      await page.getByRole('link', { name: 'Devices' }).click();
      const pager = page.getByRole('navigation', { name: 'Pages' });
      await expect.poll(() => pager.textContent(), { timeout: 30_000 }).toMatch(/1–50 of 304/);
      expect(await page.locator('tr[data-device-id]').count()).toBe(50);
      await page.getByRole('button', { name: 'Next' }).click();
      expect(await pager.textContent()).toMatch(/51–100 of 304/);
      const started = Date.now();
      await page.getByLabel('Search').fill('bulk-299');
      await expect.poll(() => page.locator('tr[data-device-id]').count()).toBe(1);
      // Generous: a filter over 304 devices is one pass over an in-memory list.
      expect(Date.now() - started).toBeLessThan(2_000);
      await page.getByLabel('Search').fill('');
      await shot('8-fleet');
    } finally {
      await bulk.stop();
    }
  });

  it.skipIf(!fs.existsSync(PROMTOOL))(
    'serves the gateway and hub metrics on the embedded hub, promtool-clean',
    async () => {
      const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
      expect(sample(text, 'coregate_hub_gateways_connected')).toBe(1);
      expect(sample(text, 'coregate_hub_subscribers')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'coregate_commands_total', { result: 'success' })).toBe(2);
      expect(sample(text, 'coregate_hub_webhook_failures_total')).toBeGreaterThan(0);
      expect(
        sample(text, 'coregate_hub_http_request_duration_seconds_count', {
          method: 'GET',
          route: 'dashboard',
          status: '200',
        }),
      ).toBeGreaterThan(0);
    },
  );
});
