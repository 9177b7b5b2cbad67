import dgram from 'node:dgram';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { selfSignedCert } from '../helpers/tls.js';
import { CoregateProcess } from '../connector/platform-harness.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-startup-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A config file in `dir` for `coregate start` on free ports, with `extra` merged over it. */
function configFile(name: string, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, `${name}.json`);
  const base = {
    db: path.join(dir, `${name}.db`),
    coap: { bind: '127.0.0.1', port: 0 },
    discovery: { enabled: false },
    hub: { host: '127.0.0.1', port: 0, db: path.join(dir, `${name}-hub.db`) },
  };
  fs.writeFileSync(file, JSON.stringify({ ...base, ...extra }));
  return file;
}

/** Exactly one line on stderr, naming the setting; a non-zero exit. */
function expectOneLine(run: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.code).not.toBeNull();
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('fatal configuration errors exit non-zero with one line naming the setting', () => {
  it('an invalid CIDR in rd.limits.allowedNetworks', async () => {
    const file = configFile('cidr', { rd: { limits: { allowedNetworks: ['10.0.0.0/99'] } } });
    const run = await runCli(['start', '-c', file]);
    expectOneLine(run, /^coregate: .*rd\.limits\.allowedNetworks\.0: not a CIDR network/);
    expect(run.code).toBe(2);
  });

  it('a CoAP port in use, and a hub port in use', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const tcp = net.createServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const coap = await runCli(['start', '-c', configFile('coap-port')], {
        COREGATE_COAP_PORT: String(udp.address().port),
      });
      expectOneLine(coap, /^coregate: coap\.bind \/ coap\.port .*port \d+ is already in use; stop the other process/);
      const hubPort = (tcp.address() as net.AddressInfo).port;
      const hub = await runCli(['start', '-c', configFile('hub-port')], { COREGATE_HUB_PORT: String(hubPort) });
      expectOneLine(hub, /^coregate: hub\.host \/ hub\.port .*port \d+ is already in use/);
    } finally {
      udp.close();
      tcp.close();
    }
  });

  it('a missing TLS file names CERT_FILE, for coregate hub and coregate start', async () => {
    const env = { USE_TLS: 'true', CERT_FILE: '/nope', KEY_FILE: '/nope-key' };
    const pattern = /^coregate: hub\.tls\.cert \(CERT_FILE\): cannot read \/nope \(ENOENT\)/;
    expectOneLine(await runCli(['hub', '-c', configFile('tls-hub')], env), pattern);
    expectOneLine(await runCli(['start', '-c', configFile('tls-start')], env), pattern);
  });

  it('a 5,000-deep configuration', async () => {
    const file = path.join(dir, 'deep.json');
    fs.writeFileSync(file, `{"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
    expectOneLine(await runCli(['start', '-c', file]), /^coregate: .*deep\.json: nested deeper than 64 levels$/);
  });

  it('a database path that cannot be opened (under /proc: it used to spin at 100% CPU)', async () => {
    const run = await runCli(['start', '-c', configFile('db')], { COREGATE_DB: '/proc/nope/x.db' });
    expectOneLine(run, /^coregate: db \(COREGATE_DB\): cannot open \/proc\/nope\/x\.db/);
  });
});

describe('coregate start honours USE_TLS for its embedded hub', () => {
  it('serves https with CERT_FILE and KEY_FILE, and its own gateway links over wss', async () => {
    const { cert, key } = selfSignedCert(dir);
    const gateway = CoregateProcess.start(['start', '-c', configFile('tls-embedded')], {
      USE_TLS: 'true',
      CERT_FILE: cert,
      KEY_FILE: key,
    });
    try {
      const listening = await gateway.logged({ msg: 'hub listening' });
      expect(listening.tls).toBe(true);
      await gateway.logged({ msg: 'gateway connected' });
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(
            `https://127.0.0.1:${listening.port as number}/v1/devices`,
            { ca: fs.readFileSync(cert), headers: { 'x-api-key': 'coregate-dev-key' } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });
});
