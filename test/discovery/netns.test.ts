import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/**
 * IPv6 All-CoAP-Nodes (ff02::fd) cannot run over `lo` (ENETUNREACH). Here it runs inside a
 * network namespace this test creates, on a veth pair that exists only there: a thing joined to
 * ff02::fd and the gateway's Discovery (compiled, in a child process inside the namespace) find each
 * other. Nothing reaches the machine's real network. Needs root and `ip netns`; skipped otherwise.
 */
const NAMESPACE = `coregate-test-${process.pid}`;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function namespaceProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    ip('netns', 'add', NAMESPACE);
    return undefined;
  } catch (err) {
    return `ip netns add failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

const problem = namespaceProblem();
if (problem) console.warn(`skipping the network-namespace discovery test: ${problem}`);

const CHILD = `
const [root, port] = process.argv.slice(1);
const { Discovery } = await import(root + '/dist/rd/index.js');
const { Thing } = await import(root + '/dist/src/thing/index.js');
const { CoapClient } = await import(root + '/dist/src/coap/client.js');
const { parseConfig } = await import(root + '/dist/src/config.js');
const { silentLogger } = await import(root + '/dist/src/log.js');
const log = silentLogger();
const thing = new Thing({ log, name: 'ns-thing', host: '::', port: Number(port),
  multicast: { group: 'ff02::fd', interface: '::%va' }, sensorIntervalMs: 0 });
await thing.start();
const client = new CoapClient({ log });
const found = [];
const config = parseConfig({ discovery: { groups: ['ff02::fd'], interfaces: ['va'], mdns: false, waitMs: 500 } }).discovery;
const discovery = new Discovery({ log, config, client, rdPort: 5683, coapPort: Number(port),
  onDiscovered: (host, p, links) => found.push({ host, port: p, hrefs: links.map((l) => l.href) }) });
const count = await discovery.runOnce();
console.log(JSON.stringify({ count, found }));
await discovery.stop();
await client.close();
await thing.stop();
`;

describe.skipIf(problem !== undefined)('IPv6 multicast discovery in a network namespace', () => {
  beforeAll(async () => {
    // Link-local addresses usable at once (no duplicate address detection on a private link).
    execFileSync('ip', ['netns', 'exec', NAMESPACE, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
    ip('-n', NAMESPACE, 'link', 'set', 'lo', 'up');
    ip('-n', NAMESPACE, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    ip('-n', NAMESPACE, 'link', 'set', 'va', 'up');
    ip('-n', NAMESPACE, 'link', 'set', 'vb', 'up');
    await waitFor(() => /inet6 fe80::/.test(ip('-n', NAMESPACE, '-6', 'addr', 'show', 'dev', 'va')), {
      what: 'a link-local address on va',
    });
  });

  afterAll(() => {
    ip('netns', 'del', NAMESPACE);
  });

  it('finds a thing joined to ff02::fd through the configured interface', () => {
    const port = String(40_000 + Math.floor(Math.random() * 10_000));
    const run = spawnSync(
      'ip',
      ['netns', 'exec', NAMESPACE, process.execPath, '--input-type=module', '-e', CHILD, ROOT, port],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
      count: number;
      found: Array<{ host: string; port: number; hrefs: string[] }>;
    };
    expect(result.count).toBe(1);
    expect(result.found[0]).toMatchObject({ port: Number(port) });
    expect(result.found[0]!.host).toMatch(/^fe80:/);
    expect(result.found[0]!.hrefs).toContain('/sensors/temp');
  });
});
