import os from 'node:os';
import type { Answer, Question } from 'dns-packet';
import makeMdns from 'multicast-dns';
import type { Logger } from '../../src/log.js';

/** DNS-SD service type of CoAP over UDP (RFC 7252 §9 registers `coap`; RFC 6763 §7 naming). */
export const COAP_SERVICE = '_coap._udp.local';
/** RFC 6762 §10: host records live 120 s, other records 75 min. */
const HOST_TTL = 120;
const OTHER_TTL = 4500;

/** Socket options of multicast-dns; tests use a private port on 127.0.0.1. */
export interface MdnsSocketOptions {
  interface?: string;
  port?: number;
  bind?: string;
  ip?: string;
  loopback?: boolean;
}

export interface MdnsServiceOptions {
  log: Logger;
  /** Port the RD listens on: the SRV record points there. */
  rdPort: number;
  /** Addresses the A/AAAA records of the RD's host name carry. */
  addresses: string[];
  socket: MdnsSocketOptions;
  /** A `_coap._udp` service (not our own) was resolved to an address. */
  onService: (host: string, port: number, instance: string) => void;
}

interface Srv {
  target: string;
  port: number;
}

const label = (text: string): string => text.replace(/[^A-Za-z0-9-]/g, '-');

function txtStrings(data: unknown): string[] {
  const items = Array.isArray(data) ? data : [data];
  return items.map((item) => (Buffer.isBuffer(item) ? item.toString('utf8') : String(item)));
}

/**
 * The RD on mDNS (RFC 6762 / DNS-SD RFC 6763): answers queries for `_coap._udp.local` with a PTR to
 * its instance, SRV to its CoAP port, TXT `rt=core.rd` (RFC 9176 §4 resource type) and its
 * addresses; and browses `_coap._udp.local`, resolving other instances to host and port.
 */
export class MdnsService {
  private mdns: ReturnType<typeof makeMdns> | undefined;
  readonly instance: string;
  private readonly hostName: string;
  private readonly srvByInstance = new Map<string, Srv>();
  private readonly addressByHost = new Map<string, string>();
  private warned = false;

  constructor(private readonly options: MdnsServiceOptions) {
    const host = label(os.hostname());
    this.instance = `coregate-rd-${host}-${options.rdPort}.${COAP_SERVICE}`;
    this.hostName = `coregate-${host}.local`;
  }

  start(): void {
    const mdns = makeMdns({ multicast: true, loopback: true, ...this.options.socket });
    this.mdns = mdns;
    mdns.on('error', (err: Error) => this.unavailable(err));
    mdns.on('warning', (err: Error) => this.unavailable(err));
    mdns.on('query', (query) => this.answer(query.questions));
    mdns.on('response', (response) => this.learn([...response.answers, ...response.additionals]));
    // RFC 6762 §8.3: announce once on start-up.
    this.send({ answers: this.serviceRecords(), additionals: this.hostRecords() });
  }

  /** Asks the link for every `_coap._udp` instance; answers arrive through onService. */
  browse(): void {
    this.query([{ name: COAP_SERVICE, type: 'PTR' }]);
  }

  stop(): Promise<void> {
    const mdns = this.mdns;
    this.mdns = undefined;
    return new Promise((resolve) => (mdns ? mdns.destroy(() => resolve()) : resolve()));
  }

  private serviceRecords(): Answer[] {
    return [
      { name: COAP_SERVICE, type: 'PTR', ttl: OTHER_TTL, data: this.instance },
      { name: this.instance, type: 'SRV', ttl: HOST_TTL, data: { target: this.hostName, port: this.options.rdPort } },
      { name: this.instance, type: 'TXT', ttl: OTHER_TTL, data: ['rt=core.rd'] },
    ];
  }

  private hostRecords(): Answer[] {
    return this.options.addresses.map((address): Answer => ({
      name: this.hostName,
      type: address.includes(':') ? 'AAAA' : 'A',
      ttl: HOST_TTL,
      data: address,
    }));
  }

  private answer(questions: Question[]): void {
    const wants = (name: string, ...types: string[]): boolean =>
      questions.some(
        (q) => q.name.toLowerCase() === name.toLowerCase() && ((q.type as string) === 'ANY' || types.includes(q.type)),
      );
    if (wants(COAP_SERVICE, 'PTR') || wants(this.instance, 'SRV', 'TXT')) {
      this.send({ answers: this.serviceRecords(), additionals: this.hostRecords() });
    } else if (wants(this.hostName, 'A', 'AAAA')) {
      this.send({ answers: this.hostRecords(), additionals: [] });
    }
  }

  /** Folds a response into what is known and resolves every instance it names as far as it can. */
  private learn(records: Answer[]): void {
    const instances = new Set<string>();
    for (const record of records) {
      if (record.type === 'PTR' && record.name.toLowerCase() === COAP_SERVICE) instances.add(record.data);
      if (record.type === 'SRV' && record.name.toLowerCase().endsWith(`.${COAP_SERVICE}`)) {
        this.srvByInstance.set(record.name, { target: record.data.target, port: record.data.port });
        instances.add(record.name);
      }
      if (record.type === 'A' || record.type === 'AAAA') {
        this.addressByHost.set(record.name, record.data);
        // An address answers an earlier SRV: resolve the instances that were waiting for it.
        for (const [instance, srv] of this.srvByInstance) if (srv.target === record.name) instances.add(instance);
      }
      if (record.type === 'TXT' && txtStrings(record.data).some((item) => item.startsWith('rt=core.rd'))) {
        // Another directory: not a thing to query (RFC 9176 §4).
        instances.delete(record.name);
        this.srvByInstance.delete(record.name);
      }
    }
    for (const instance of instances) this.resolve(instance);
  }

  private resolve(instance: string): void {
    if (instance === this.instance) return;
    const srv = this.srvByInstance.get(instance);
    if (!srv) return this.query([{ name: instance, type: 'SRV' }]);
    const address = this.addressByHost.get(srv.target);
    if (!address) return this.query([{ name: srv.target, type: 'A' }]);
    this.options.onService(address, srv.port, instance);
  }

  private query(questions: Question[]): void {
    this.mdns?.query({ questions }, (err) => {
      if (err) this.unavailable(err);
    });
  }

  private send(packet: { answers: Answer[]; additionals: Answer[] }): void {
    this.mdns?.respond(packet, (err) => {
      if (err) this.unavailable(err);
    });
  }

  /** One clear warning: mDNS is an extra, never a reason for the gateway to stop. */
  private unavailable(err: Error): void {
    const { log } = this.options;
    if (this.warned) return log.debug({ err }, 'mDNS error');
    this.warned = true;
    log.warn(
      { err: err.message, code: (err as NodeJS.ErrnoException).code },
      'mDNS is not fully available on this machine (advertising/browsing _coap._udp may not work); the gateway runs on without it',
    );
  }
}
