import type { Endpoint } from '../src/coap/endpoint.js';
import { CoapServer } from '../src/coap/server.js';
import type { CoapClientApi } from '../src/coap/types.js';
import type { RdConfig } from '../src/config.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Registry } from '../src/metrics/index.js';
import type { Store } from '../src/store/index.js';
import { Directory } from './directory.js';
import { ExpirySweeper } from './expiry.js';
import { GroupInterface } from './groups.js';
import { Limits } from './limits.js';
import { Lookup } from './lookup.js';
import { RdMetrics } from './metrics.js';
import { RegistrationInterface } from './registration.js';
import { Router } from './router.js';
import { SimpleRegistration } from './simple-registration.js';
import { wellKnownCore } from './well-known.js';

export interface ResourceDirectoryDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: RdConfig;
  /** Where the RD listens; `::` is dual-stack. Port 0 picks a free port (tests). */
  coap: { bind: string; port: number };
  /**
   * The gateway's endpoint, which the workers request from as well (one socket per bound address): the RD
   * serves on it instead of opening its own on `coap`. Its owner opens it, joins its groups and closes it.
   */
  endpoint?: Endpoint;
  /** Fetches `/.well-known/core` for simple registration (RFC 9176 §5.1). */
  client: Pick<CoapClientApi, 'request'>;
  /** Multicast groups the RD's socket joins, so RD discovery (RFC 9176 §4) reaches it. */
  multicastGroups?: Array<{ group: string; interface?: string }>;
  /** Where the RD's request metrics are registered; none: they are kept but not exposed. */
  metrics?: Registry;
}

/** The CoRE Resource Directory (RFC 9176) as a component: its CoAP server, its routes, its lifetime sweeps. */
export class ResourceDirectory {
  readonly directory: Directory;
  private readonly server: CoapServer;
  private readonly sweeper: ExpirySweeper;
  private readonly simple: SimpleRegistration;

  constructor(private readonly deps: ResourceDirectoryDeps) {
    const { store, bus, log, config } = deps;
    this.directory = new Directory(store, bus, log, config);
    const limits = new Limits(config.limits, log);
    const registration = new RegistrationInterface(this.directory, config);
    const lookup = new Lookup(this.directory, store, config.limits);
    const groups = new GroupInterface(this.directory, store, config);
    this.simple = new SimpleRegistration(this.directory, deps.client, config, log);
    const router: Router = new Router(
      {
        '.well-known/core': { GET: (request) => wellKnownCore(request, router.links()), POST: this.simple.handle },
        '.well-known/rd': { POST: this.simple.handle },
        rd: { rt: 'core.rd', POST: registration.register },
        'rd/:id': { GET: registration.read, POST: registration.update, DELETE: registration.remove },
        'rd-lookup/ep': { rt: 'core.rd-lookup-ep', GET: lookup.endpoints },
        'rd-lookup/res': { rt: 'core.rd-lookup-res', GET: lookup.resources },
        'rd-group': { rt: 'core.rd-group', POST: groups.register },
        'rd-group/:id': { GET: groups.read, POST: groups.update, DELETE: groups.remove },
        'rd-lookup/gp': { rt: 'core.rd-lookup-gp', GET: groups.lookup },
      },
      { before: (request) => limits.mayChange(request.source), durable: () => this.directory.durable() },
    );
    const metrics = deps.metrics && new RdMetrics(deps.metrics);
    this.server = new CoapServer({
      handler: metrics ? metrics.handler(router.handle) : router.handle,
      log,
      ...(deps.endpoint ? { endpoint: deps.endpoint } : {}),
      bind: deps.coap.bind,
      port: deps.coap.port,
      maxPayloadBytes: config.limits.maxPayloadBytes,
      admit: metrics ? metrics.admit(limits.admit) : limits.admit,
      multicastGroups: deps.multicastGroups ?? [],
    });
    this.sweeper = new ExpirySweeper(this.directory, config.expiryCheckSeconds, log);
  }

  async start(): Promise<void> {
    // Registrations that ran out while the gateway was down go first, with their events.
    this.sweeper.sweep();
    await this.directory.durable();
    const { address, port } = await this.server.listen();
    this.sweeper.start();
    this.deps.log.info(
      { address, port, registrations: this.directory.count() },
      `resource directory listening on udp ${address} port ${port}`,
    );
  }

  async stop(): Promise<void> {
    this.sweeper.stop();
    await this.simple.drain();
    // Commit first, and let the answers that waited for it go out before the socket closes.
    this.directory.flush();
    await new Promise((resolve) => setImmediate(resolve));
    await this.server.close();
  }

  address(): { address: string; port: number } {
    return this.server.address();
  }
}
