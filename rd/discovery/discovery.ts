import os from 'node:os';
import type { DiscoveryConfig } from '../../src/config.js';
import type { CoapClientApi } from '../../src/coap/types.js';
import type { Logger } from '../../src/log.js';
import type { Link } from '../../src/coap/link-format.js';
import { thingLinks } from './links.js';
import { MdnsService, type MdnsSocketOptions } from './mdns.js';
import { MulticastDiscovery } from './multicast.js';

export type OnDiscovered = (host: string, port: number, links: Link[]) => void;

export interface DiscoveryDeps {
  log: Logger;
  config: DiscoveryConfig;
  client: Pick<CoapClientApi, 'request' | 'multicast'>;
  /** Each thing found, with its `/.well-known/core` links (the composition root hands it to the Directory). */
  onDiscovered: OnDiscovered;
  /** The RD's CoAP port, advertised over mDNS. */
  rdPort: number;
  /** Port the All-CoAP-Nodes groups are addressed at; 5683 (RFC 7252 §12.8) but for tests. */
  coapPort?: number;
  /** multicast-dns socket options; tests keep mDNS on 127.0.0.1 and a private port. */
  mdnsOptions?: MdnsSocketOptions;
}

const COAP_PORT = 5683;
/** Rounds a discovered device may miss before its registration runs out. */
const ROUNDS_OF_LIFETIME = 3;

/** Lifetime (`lt`, seconds) to give a discovered device's registration: it outlives a few missed rounds. */
export function discoveredLifetime(config: DiscoveryConfig): number {
  return Math.ceil(config.intervalSeconds * ROUNDS_OF_LIFETIME);
}
const WELL_KNOWN_CORE = '/.well-known/core';
const UNICAST_TIMEOUT_MS = 5_000;

/** Non-loopback addresses of this host (or of the configured interfaces) for the mDNS A/AAAA records. */
function hostAddresses(config: DiscoveryConfig, socket: MdnsSocketOptions | undefined): string[] {
  if (socket?.interface) return [socket.interface];
  const all = Object.entries(os.networkInterfaces());
  const configured = new Set(config.interfaces);
  const addresses: string[] = [];
  for (const [name, entries] of all) {
    for (const entry of entries ?? []) {
      const chosen = configured.size > 0 ? configured.has(name) || configured.has(entry.address) : !entry.internal;
      if (chosen && !entry.address.startsWith('fe80:')) addresses.push(entry.address);
    }
  }
  return addresses;
}

/**
 * The gateway finding devices by itself (docs/design.md "Discovery"): CoAP multicast discovery on start and every
 * `intervalSeconds`, and mDNS (advertising the RD, browsing `_coap._udp`). Every thing found is
 * passed to `onDiscovered`; nothing here ever stops the gateway when the network says no.
 */
export class Discovery {
  private readonly multicast: MulticastDiscovery | undefined;
  private readonly mdns: MdnsService | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Services already queried in this round: mDNS repeats answers, the thing is asked once. */
  private readonly queried = new Set<string>();

  constructor(private readonly deps: DiscoveryDeps) {
    const { config, client, log } = deps;
    if (config.enabled && config.multicast) {
      this.multicast = new MulticastDiscovery({
        client,
        log,
        groups: config.groups,
        interfaces: config.interfaces,
        waitMs: config.waitMs,
        port: deps.coapPort ?? COAP_PORT,
      });
    }
    if (config.enabled && config.mdns) {
      const firstIpv4 = config.interfaces.find((value) => !value.includes(':') && /^[\d.]+$/.test(value));
      const socket: MdnsSocketOptions =
        deps.mdnsOptions ?? (firstIpv4 ? { interface: firstIpv4, bind: '0.0.0.0' } : {});
      this.mdns = new MdnsService({
        log,
        rdPort: deps.rdPort,
        addresses: hostAddresses(config, socket),
        socket,
        onService: (host, port) => void this.queryService(host, port),
      });
    }
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    if (!config.enabled) {
      log.info('discovery is off (discovery.enabled=false / COREGATE_DISCOVERY=off)');
      return;
    }
    this.mdns?.start();
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), config.intervalSeconds * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.mdns?.stop();
  }

  /** One discovery round; resolves with the number of things that answered the multicast request. */
  async runOnce(): Promise<number> {
    if (this.stopped) return 0;
    this.queried.clear();
    this.mdns?.browse();
    const found = (await this.multicast?.round()) ?? [];
    if (this.stopped) return 0;
    for (const { host, port, links } of found) this.found(host, port, links, 'multicast');
    if (found.length > 0) this.deps.log.info({ found: found.length }, 'multicast discovery round');
    return found.length;
  }

  /** mDNS named a CoAP service: its links come from `/.well-known/core` over unicast (RFC 6690 §4). */
  private async queryService(host: string, port: number): Promise<void> {
    const key = `${host}|${port}`;
    if (this.stopped || this.queried.has(key)) return;
    this.queried.add(key);
    const { client, log } = this.deps;
    let links: Link[] | undefined;
    try {
      const reply = await client.request({
        host,
        port,
        method: 'GET',
        path: WELL_KNOWN_CORE,
        timeoutMs: UNICAST_TIMEOUT_MS,
      });
      links = thingLinks(reply);
    } catch (err) {
      log.debug({ host, port, err: (err as Error).message }, 'mDNS service did not answer /.well-known/core');
    }
    if (links && !this.stopped) this.found(host, port, links, 'mDNS');
  }

  /** Hands a find to the directory; a failure there is logged, never allowed to stop discovery. */
  private found(host: string, port: number, links: Link[], via: 'multicast' | 'mDNS'): void {
    try {
      this.deps.onDiscovered(host, port, links);
      this.deps.log.debug({ host, port, links: links.length, via }, 'discovered');
    } catch (err) {
      this.deps.log.error({ err, host, port, via }, 'could not record a discovered device');
    }
  }
}
