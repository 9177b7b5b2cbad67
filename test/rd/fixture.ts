import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CoapClient } from '../../src/coap/client.js';
import { Endpoint } from '../../src/coap/endpoint.js';
import { DEFAULT_TIMING } from '../../src/coap/timing.js';
import { parseConfig, type RdConfig } from '../../src/config.js';
import { DEVICE_EVENTS, EventBus, type GatewayEvents } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Store } from '../../src/store/index.js';
import { ResourceDirectory } from '../../rd/index.js';
import { TestClient } from './udp-client.js';

export interface RecordedEvent {
  name: keyof GatewayEvents;
  device: string;
  reason?: string;
}

type RdOverrides = Partial<Omit<RdConfig, 'limits'>> & { limits?: Partial<RdConfig['limits']> };

/** An RD on a free port over a fresh SQLite file, with its bus events recorded; reopen() restarts it on the same file. */
export class RdFixture {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-rd-'));
  readonly events: RecordedEvent[] = [];
  readonly bus = new EventBus();
  store!: Store;
  rd!: ResourceDirectory;
  /** The gateway's own CoAP client, which simple registration fetches with, on the RD's endpoint. */
  coapClient!: CoapClient;
  /** One endpoint for the RD and its client, as the gateway has. */
  endpoint!: Endpoint;
  readonly config: RdConfig;
  private readonly clients: TestClient[] = [];

  constructor(overrides: RdOverrides = {}) {
    const base = parseConfig({}).rd;
    this.config = { ...base, ...overrides, limits: { ...base.limits, ...overrides.limits } };
    for (const name of DEVICE_EVENTS) {
      this.bus.on(name, (payload) => {
        const reason = 'reason' in payload ? payload.reason : undefined;
        this.events.push({ name, device: payload.device.id, ...(reason ? { reason } : {}) });
      });
    }
  }

  async start(): Promise<this> {
    this.store = new Store({ file: path.join(this.dir, 'rd.db') });
    this.endpoint = new Endpoint({ log: silentLogger(), bind: '::', port: 0, timing: DEFAULT_TIMING });
    this.coapClient = new CoapClient({ log: silentLogger(), endpoint: this.endpoint });
    this.rd = new ResourceDirectory({
      store: this.store,
      bus: this.bus,
      log: silentLogger(),
      config: this.config,
      coap: { bind: '::', port: 0 },
      client: this.coapClient,
      endpoint: this.endpoint,
    });
    await this.rd.start();
    return this;
  }

  get port(): number {
    return this.rd.address().port;
  }

  /** A client with its own source port, on IPv4 loopback unless told otherwise. */
  async client(host = '127.0.0.1'): Promise<TestClient> {
    const client = new TestClient(host, this.port);
    await client.bind();
    this.clients.push(client);
    return client;
  }

  eventsOf(device: string): string[] {
    return this.events.filter((e) => e.device === device).map((e) => (e.reason ? `${e.name}:${e.reason}` : e.name));
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.close();
    await this.rd.stop();
    await this.coapClient.close();
    await this.endpoint.close();
    this.store.close();
  }

  async reopen(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Registers `ep` with `links` and returns its registration id (the second Location-Path segment). */
export async function register(
  client: TestClient,
  query: string,
  links = '</sensors/temp>;rt="temperature"',
): Promise<string> {
  const reply = await client.request({ method: 'POST', uri: `/rd?${query}`, payload: links, contentFormat: 40 });
  if (reply.code !== '2.01') throw new Error(`registration failed: ${reply.code} ${reply.payload}`);
  return reply.locationPath[1]!;
}
