import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Directory, Discovery, discoveredLifetime } from '../../rd/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { parseConfig } from '../../src/config.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';
import { freeWildcardUdpPort, LOOPBACK, multicastSkipReason } from './loopback.js';

/**
 * libcoap's coap-server as the device the gateway discovers (RFC 7252 §8.2): it answers a multicast
 * GET /.well-known/core only after a random Leisure, which one discovery round with the default
 * `discovery.waitMs` must outlast.
 */
const GROUP = '224.0.1.187';
const LIBCOAP_SERVER = '/usr/bin/coap-server-notls';

async function skipReason(): Promise<string | undefined> {
  if (!fs.existsSync(LIBCOAP_SERVER)) {
    const reason = `${LIBCOAP_SERVER} (libcoap) is not installed`;
    console.warn(`skipping libcoap discovery test: ${reason}`);
    return reason;
  }
  return multicastSkipReason(GROUP, 'libcoap discovery test');
}
const problem = await skipReason();

const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** coap-server-notls on `port`, its log (verbosity 7 names each multicast answer's delay) collected. */
function startLibcoap(port: number): { child: ChildProcess; output: () => string } {
  // -A 0.0.0.0, not 127.0.0.1: Linux hands a datagram sent to the group only to sockets bound to the wildcard
  // (or the group) address, so a server bound to 127.0.0.1 joins the group on lo but never hears a request to it.
  const child = spawn(LIBCOAP_SERVER, ['-A', '0.0.0.0', '-p', String(port), '-g', GROUP, '-G', 'lo', '-v', '7'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  closers.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  return { child, output: () => text };
}

describe.skipIf(problem !== undefined)('libcoap coap-server discovered by CoAP multicast (RFC 7252 §8.2)', () => {
  it('finds the server in one round despite its Leisure and registers it with its /.well-known/core', async () => {
    const port = await freeWildcardUdpPort();
    const libcoap = startLibcoap(port);

    const client = new CoapClient({ log: silentLogger(), bind: LOOPBACK });
    closers.push(() => client.close());
    // Ready when it answers unicast; that answer is also the resource list discovery must bring back.
    const unicast = await waitFor(
      async () => {
        if (libcoap.child.exitCode !== null) throw new Error(`coap-server-notls exited:\n${libcoap.output()}`);
        return client
          .request({ host: LOOPBACK, port, method: 'GET', path: '/.well-known/core', timeoutMs: 500 })
          .catch(() => undefined);
      },
      { what: 'coap-server-notls to answer unicast' },
    );
    expect(unicast.code).toBe('2.05');
    const expected = parseLinkFormat(unicast.payload.toString('utf8')).map((link) => link.href);
    expect(expected).toContain('/time');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-libcoap-'));
    const store = new Store({ file: path.join(dir, 'gateway.db') });
    closers.push(() => {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const directory = new Directory(store, new EventBus(), silentLogger(), parseConfig({}).rd);
    // The default waitMs (no override): it has to cover a conformant server's Leisure.
    const config = parseConfig({
      discovery: { groups: [GROUP], interfaces: [LOOPBACK], mdns: false, intervalSeconds: 3600 },
    }).discovery;
    expect(config.waitMs).toBeGreaterThanOrEqual(5000);
    const discovery = new Discovery({
      log: silentLogger(),
      config,
      client,
      rdPort: 5683,
      coapPort: port,
      onDiscovered: (host, p, links) => directory.registerDiscovered(host, p, links, discoveredLifetime(config)),
    });
    closers.push(() => discovery.stop());

    const started = Date.now();
    // Other suites may use the group at the same time: only this server's port counts.
    expect(await discovery.runOnce()).toBeGreaterThanOrEqual(1);
    const roundMs = Date.now() - started;
    const device = await waitFor(() => store.devices.findByAddress(LOOPBACK, port), {
      what: 'the libcoap server as a discovered device',
      timeoutMs: 1000,
    });
    expect(device).toMatchObject({ source: 'discovery', ep: null, host: LOOPBACK, port });
    const registration = store.registrations.get(device.id)!;
    expect(registration.discovered).toBe(true);
    expect(registration.links.map((link) => link.href)).toEqual(expected);

    // libcoap logs the Leisure it chose for the multicast answer.
    const delayed = /mcast response delayed for ([\d.]+) secs/.exec(libcoap.output());
    expect(delayed, libcoap.output()).not.toBeNull();
    const leisureMs = Math.round(Number(delayed![1]) * 1000);
    console.info(
      `libcoap answered the multicast request after ${leisureMs} ms; the discovery round took ${roundMs} ms`,
    );
    expect(leisureMs).toBeLessThan(config.waitMs);
  }, 30_000);
});
