import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { createConnector, type LinkTls, type PlatformLink } from '../../connector/index.js';
import { GATEWAY_PATH, isAuthorized } from '../../connector/hub/index.js';
import { Executer } from '../../executer/index.js';
import { Observer } from '../../observer/index.js';
import { AwakeWindows, Pinger } from '../../pinger/index.js';
import { Discovery, discoveredLifetime, multicastGroups, ResourceDirectory } from '../../rd/index.js';
import { CoapClient } from '../coap/client.js';
import { Endpoint } from '../coap/endpoint.js';
import { DEFAULT_TIMING } from '../coap/timing.js';
import { ConfigError, DEFAULT_API_KEY, type Config } from '../config.js';
import { logActivity } from './activity-log.js';
import { EmbeddedHub } from './embedded-hub.js';
import { prettyByDefault } from '../log.js';
import { EventBus } from '../events.js';
import { createRegistry, MetricsServer, operatorRoutes, type ReadinessCheck, type Registry } from '../metrics/index.js';
import { registerCoreMetrics, timedCommands } from '../metrics/core-metrics.js';
import type { Link } from '../coap/link-format.js';
import { SleepyClassifier, Store } from '../store/index.js';

/** The gateway's database; a path that cannot be opened is a configuration error naming `db`. */
function openStore(config: Config): Store {
  try {
    return new Store({
      file: config.db,
      outboxMax: config.platform.outboxMax,
      backgroundCheckpoints: true,
      sleepy: new SleepyClassifier(config.sleepy),
    });
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`db (COREGATE_DB): cannot open ${config.db} (${reason}); name a writable file`);
  }
}

/**
 * The embedded hub's link trusts exactly the hub's own certificate (by its SHA-256 fingerprint), whatever
 * names it carries: the link goes to this process' own listener on the loopback address.
 */
function pinnedTo(certFile: string): LinkTls {
  const pem = fs.readFileSync(certFile);
  const expected = new X509Certificate(pem).fingerprint256;
  return {
    ca: pem,
    checkServerIdentity: (_host, peer) =>
      peer.fingerprint256 === expected ? undefined : new Error('the embedded hub presented another certificate'),
  };
}

/** A component that failed to start, and why: the start command names the setting behind it. */
export class StartupError extends Error {
  override name = 'StartupError';
  constructor(
    readonly component: string,
    override readonly cause: unknown,
  ) {
    super(`${component} failed to start: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

interface Component {
  name: string;
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The composition root (docs/design.md): builds the store, the bus and every component, wires them
 * together (the Connector gets the Executer as a function, discovery feeds the Directory), starts
 * them in dependency order and stops them in reverse, so no component outlives what it uses.
 */
export class Gateway {
  readonly store: Store;
  readonly bus: EventBus;
  readonly rd: ResourceDirectory;
  readonly executer: Executer;
  readonly hub: EmbeddedHub | null;
  private readonly endpoint: Endpoint;
  /** Every metric of this process: the components', the core's and Node's (served at /metrics). */
  readonly metrics: Registry;
  private readonly client: CoapClient;
  private readonly components: Component[];
  private readonly started: Component[] = [];
  private connector: PlatformLink | undefined;
  private hubPort: number | undefined;
  private readonly execute;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.store = openStore(config);
    this.bus = new EventBus((err, event) => log.error({ err, event }, 'an event listener failed'));
    logActivity(this.bus, log.child({ component: 'activity' }));
    // docs/design.md "One CoAP endpoint per bound address": the RD's socket is also where every request to a
    // device leaves from, so devices that connect() their socket or sit behind a NAT accept the answers.
    this.endpoint = new Endpoint({
      log: log.child({ component: 'coap' }),
      bind: config.coap.bind,
      port: config.coap.port,
      timing: DEFAULT_TIMING,
      // Joining All-CoAP-Nodes lets things find the RD and send simple registrations by multicast (RFC 9176 §4, §5.1).
      multicastGroups: multicastGroups(config.discovery),
    });
    this.client = new CoapClient({ log: log.child({ component: 'coap-client' }), endpoint: this.endpoint });
    this.metrics = createRegistry();
    registerCoreMetrics(this.metrics, this.store, this.bus);
    const shared = (component: string) => ({
      store: this.store,
      bus: this.bus,
      log: log.child({ component }),
      metrics: this.metrics,
    });

    this.rd = new ResourceDirectory({
      ...shared('rd'),
      config: config.rd,
      coap: config.coap,
      client: this.client,
      endpoint: this.endpoint,
    });
    // The Observer and the Executer ask the Pinger to check a device that stopped answering (docs/design.md "Liveness").
    const pinger = new Pinger({ ...shared('pinger'), config: config.pinger, client: this.client });
    const checkLiveness = (deviceId: string): void => void pinger.check(deviceId);
    this.executer = new Executer({
      ...shared('executer'),
      config: config.executer,
      client: this.client,
      checkLiveness,
    });
    this.execute = timedCommands(this.metrics, (command) => this.executer.execute(command));
    this.hub =
      config.platform.url === null
        ? new EmbeddedHub({
            log,
            pretty: prettyByDefault(),
            config: {
              ...config.hub,
              gateways: { ...config.hub.gateways, [config.platform.gatewayId]: config.platform.secret },
            },
            metrics: this.metrics,
            metricsNeedApiKey: config.metrics.requireApiKey,
            readiness: () => this.readiness(),
          })
        : null;
    const metricsServer =
      this.hub === null && config.metrics.port !== null
        ? new MetricsServer({
            host: config.metrics.host,
            port: config.metrics.port,
            log: log.child({ component: 'metrics' }),
            routes: operatorRoutes({
              registry: this.metrics,
              readiness: () => this.readiness(),
              mayReadMetrics: (req, url) => !config.metrics.requireApiKey || isAuthorized(req, url, config.hub.apiKey),
            }),
          })
        : undefined;

    const awakeWindows = new AwakeWindows(shared('awake-windows'));
    const observer = new Observer({
      ...shared('observer'),
      config: config.observer,
      client: this.client,
      checkLiveness,
    });
    const discovery = new Discovery({
      log: log.child({ component: 'discovery' }),
      config: config.discovery,
      client: this.client,
      rdPort: config.coap.port,
      onDiscovered: (host, port, links) => this.onDiscovered(host, port, links),
    });

    this.components = [
      // First, so /healthz answers while the rest starts and /readyz says what is not up yet.
      ...(metricsServer
        ? [{ name: 'metrics', start: () => metricsServer.start(), stop: () => metricsServer.stop() }]
        : []),
      { name: 'hub', start: () => this.startHub(), stop: () => this.hub?.stop() ?? Promise.resolve() },
      // Right after the hub: every event from here on reaches the outbox, and on stop the workers'
      // last events are written before the link closes. start() does not wait for the link.
      {
        name: 'connector',
        start: () => this.startConnector(),
        stop: () => this.connector?.stop() ?? Promise.resolve(),
      },
      { name: 'rd', start: () => this.rd.start(), stop: () => this.rd.stop() },
      // Before the executer: after a restart sleepy devices are asleep until heard from, so nothing queued goes out early.
      {
        name: 'awake-windows',
        start: async () => awakeWindows.start(),
        stop: async () => awakeWindows.stop(),
      },
      { name: 'executer', start: () => this.executer.start(), stop: () => this.executer.stop() },
      ...(config.observer.enabled
        ? [{ name: 'observer', start: () => observer.start(), stop: () => observer.stop() }]
        : []),
      ...(config.pinger.enabled ? [{ name: 'pinger', start: () => pinger.start(), stop: () => pinger.stop() }] : []),
      { name: 'discovery', start: () => discovery.start(), stop: () => discovery.stop() },
    ];
  }

  /** Starts every component in order; on a failure, stops what already started and rethrows. */
  async start(): Promise<void> {
    this.log.info(
      { db: this.config.db, devices: this.store.devices.count(), registrations: this.store.registrations.count() },
      `store ${this.config.db}`,
    );
    for (const component of this.components) {
      try {
        await component.start();
      } catch (err) {
        await this.stop();
        throw new StartupError(component.name, err);
      }
      this.started.push(component);
    }
    this.log.info('gateway running');
  }

  /** Stops in reverse order of start; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    while (this.started.length > 0) {
      const component = this.started.pop()!;
      try {
        await component.stop();
      } catch (err) {
        this.log.warn({ err, component: component.name }, `${component.name} did not stop cleanly`);
      }
    }
    await this.client.close();
    await this.endpoint.close();
    this.store.close();
  }

  private async startHub(): Promise<void> {
    if (!this.hub) return;
    const { port } = await this.hub.start();
    this.hubPort = port;
    const { host } = this.config.hub;
    this.log.info(
      { port, apiKeyIsDefault: this.config.hub.apiKey === DEFAULT_API_KEY },
      `embedded hub: HTTP API on ${this.config.hub.tls ? 'https' : 'http'}://${host}:${port}/v1/devices (no platform.url configured)`,
    );
  }

  private async startConnector(): Promise<void> {
    const url = this.config.platform.url ?? this.embeddedHubUrl();
    this.connector = createConnector({
      store: this.store,
      bus: this.bus,
      log: this.log.child({ component: 'connector' }),
      config: { ...this.config.platform, url },
      execute: this.execute,
      enqueue: this.executer.enqueue,
      cancel: this.executer.cancel,
      metrics: this.metrics,
      ...(this.hub && this.config.hub.tls && { tls: pinnedTo(this.config.hub.tls.cert) }),
    });
    await this.connector.start();
  }

  private embeddedHubUrl(): string {
    const { host, port, tls } = this.config.hub;
    const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `${tls ? 'wss' : 'ws'}://${target.includes(':') ? `[${target}]` : target}:${this.hubPort ?? port}${GATEWAY_PATH}`;
  }

  /** /readyz of the gateway (RFC-less, as Kubernetes probes expect): store open, RD bound, platform link up. */
  private readiness(): ReadinessCheck[] {
    return [
      { name: 'store', check: () => this.store.open || 'the store is closed' },
      {
        name: 'rd',
        check: () => {
          this.rd.address();
          return true;
        },
      },
      {
        name: 'platform_link',
        check: () => {
          const state = this.connector?.state() ?? 'offline';
          return state === 'online' || `the platform link is ${state}`;
        },
      },
    ];
  }

  private onDiscovered(host: string, port: number, links: Link[]): void {
    const lifetime = discoveredLifetime(this.config.discovery);
    const result = this.rd.directory.registerDiscovered(host, port, links, lifetime);
    if (!result.ok) this.log.warn({ host, port, error: result.error }, 'discovered device not registered');
  }
}
