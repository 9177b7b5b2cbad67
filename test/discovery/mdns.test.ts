import type { Answer } from 'dns-packet';
import makeMdns from 'multicast-dns';
import { describe, expect, it } from 'vitest';
import { Discovery, type MdnsSocketOptions } from '../../rd/index.js';
import { CoapClient } from '../../src/coap/client.js';
import { parseConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { Link } from '../../src/coap/link-format.js';
import { Thing } from '../../src/thing/index.js';
import { waitFor } from '../helpers/wait.js';
import { freeWildcardUdpPort, LOOPBACK, multicastSkipReason, closeAfterEach } from './loopback.js';

// mDNS on its own group, a private port and the loopback interface: never the machine's real mDNS.
const MDNS_GROUP = '224.0.0.251';
const problem = await multicastSkipReason(MDNS_GROUP, 'mDNS discovery tests');

const onCleanup = closeAfterEach();

async function mdnsOptions(): Promise<MdnsSocketOptions> {
  return { interface: LOOPBACK, bind: '0.0.0.0', port: await freeWildcardUdpPort(), ip: MDNS_GROUP, loopback: true };
}

/** A plain multicast-dns peer on the same private port, playing the other side. */
function peer(options: MdnsSocketOptions): ReturnType<typeof makeMdns> {
  const mdns = makeMdns({ multicast: true, ...options });
  onCleanup(() => new Promise<void>((resolve) => mdns.destroy(() => resolve())));
  return mdns;
}

function startDiscovery(
  options: MdnsSocketOptions,
  rdPort: number,
  onDiscovered = (_h: string, _p: number, _l: Link[]) => {},
): Discovery {
  const client = new CoapClient({ log: silentLogger(), bind: LOOPBACK });
  const discovery = new Discovery({
    log: silentLogger(),
    config: parseConfig({ discovery: { multicast: false, intervalSeconds: 3600 } }).discovery,
    client,
    onDiscovered,
    rdPort,
    mdnsOptions: options,
  });
  onCleanup(() => client.close());
  onCleanup(() => discovery.stop());
  return discovery;
}

describe.skipIf(problem !== undefined)('mDNS (RFC 6762, DNS-SD RFC 6763) on loopback', () => {
  it('advertises the RD as a _coap._udp service with SRV to its port, TXT rt=core.rd and its address', async () => {
    const options = await mdnsOptions();
    await startDiscovery(options, 5999).start();
    const browser = peer(options);
    const records: Answer[] = [];
    browser.on('response', (response) => records.push(...response.answers, ...response.additionals));
    const data = (type: Answer['type'], name: string): unknown => {
      const record = records.find((r) => r.type === type && r.name === name);
      return record && 'data' in record ? record.data : undefined;
    };
    const instance = await waitFor(
      () => {
        browser.query([{ name: '_coap._udp.local', type: 'PTR' }]);
        return data('PTR', '_coap._udp.local') as string | undefined;
      },
      { intervalMs: 200, what: 'PTR answer' },
    );
    const srv = data('SRV', instance) as { target: string; port: number };
    expect(srv).toMatchObject({ port: 5999 });
    expect((data('TXT', instance) as Buffer[]).map(String)).toEqual(['rt=core.rd']);
    expect(data('A', srv.target)).toBe(LOOPBACK);
  });

  it('browses _coap._udp, resolves PTR → SRV → A one query at a time, and queries the thing for its links', async () => {
    const options = await mdnsOptions();
    const thing = new Thing({ log: silentLogger(), name: 'mdns-thing', sensorIntervalMs: 0 });
    await thing.start();
    onCleanup(() => thing.stop());
    const instance = 'mdns-thing._coap._udp.local';
    // A terse responder: each question gets only its own record, so the browser must follow up.
    const responder = peer(options);
    const records: Record<string, Answer> = {
      PTR: { name: '_coap._udp.local', type: 'PTR', ttl: 120, data: instance },
      SRV: { name: instance, type: 'SRV', ttl: 120, data: { target: 'mdns-thing.local', port: thing.address().port } },
      A: { name: 'mdns-thing.local', type: 'A', ttl: 120, data: LOOPBACK },
    };
    const asked: string[] = [];
    responder.on('query', (query) => {
      for (const question of query.questions) {
        const record = records[question.type];
        if (record && record.name === question.name) {
          asked.push(question.type);
          responder.respond([record]);
        }
      }
    });

    const found: Array<{ host: string; port: number; links: Link[] }> = [];
    await startDiscovery(options, 5999, (host, port, links) => found.push({ host, port, links })).start();
    await waitFor(() => found.length > 0, { what: 'the thing discovered over mDNS' });
    expect(found[0]).toMatchObject({ host: LOOPBACK, port: thing.address().port });
    expect(found[0]!.links.map((l) => l.href)).toEqual(thing.links().map((l) => l.href));
    expect(asked).toEqual(expect.arrayContaining(['PTR', 'SRV', 'A']));
  });

  it('ignores another Resource Directory it finds (rt=core.rd), and its own advertisement', async () => {
    const options = await mdnsOptions();
    // Both advertised ports answer /.well-known/core like a thing: only the mDNS records tell them apart.
    const ports: number[] = [];
    for (const name of ['rd-port-1', 'rd-port-2']) {
      const thing = new Thing({ log: silentLogger(), name, sensorIntervalMs: 0 });
      await thing.start();
      onCleanup(() => thing.stop());
      ports.push(thing.address().port);
    }
    const found: string[] = [];
    const first = startDiscovery(options, ports[0]!, (host, port) => found.push(`${host}:${port}`));
    const second = startDiscovery(options, ports[1]!, (host, port) => found.push(`${host}:${port}`));
    await first.start();
    await second.start();
    const browser = peer(options);
    const instances = new Set<string>();
    browser.on('response', (response) => {
      for (const r of response.answers) if (r.type === 'PTR') instances.add(r.data);
    });
    await waitFor(
      () => {
        browser.query([{ name: '_coap._udp.local', type: 'PTR' }]);
        return instances.size === 2;
      },
      { intervalMs: 200, what: 'both RDs advertised' },
    );
    await first.runOnce();
    await second.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(found).toEqual([]);
  });
});
