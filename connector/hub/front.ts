import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HubConfig } from '../../src/config.js';
import { operatorRoutes, Registry, type ReadinessCheck } from '../../src/metrics/index.js';
import { MAX_COMMAND_TIMEOUT_MS } from '../../src/command.js';
import { formatAddress } from '../../src/coap/peer.js';
import { ConfigError } from '../../src/config.js';
import { isAuthorized } from './auth.js';
import type { CommandOutcome } from './commands.js';
import type { DeviceRegistry } from './device-registry.js';
import type { GatewayLinkInfo } from './gateway-session.js';
import { DashboardFiles } from './dashboard-files.js';
import { DeviceHistory, type HistoryLimits } from './history.js';
import { HttpApi } from './http-api.js';
import { HttpError } from './http-io.js';
import { InfoSocket } from './info-socket.js';
import { HubMetrics, routeOf } from './metrics.js';
import { PubSub } from './pubsub.js';
import type { QueuedCommandsApi } from './queued-commands-api.js';
import { ReadApi, type StoredGateway } from './read-api.js';
import { Webhooks, type WebhookOptions } from './webhooks.js';
import { MAX_FRAME_BYTES, type CommandFrame } from '../protocol/index.js';
import { limitConnections, serverOptions } from './connection-limits.js';
import type { RetainedEvents } from './retained-events.js';

/** Knobs with production defaults; tests shorten the intervals. */
export interface HubTuning {
  infoIntervalMs: number;
  handshakeTimeoutMs: number;
  maxBodyBytes: number;
  maxCommandTimeoutMs: number;
  commandGraceMs: number;
  /** How long the hub waits for a gateway to confirm it queued or cancelled a command. */
  queueConfirmMs: number;
  maxSubscriberBufferedBytes: number;
  webhooks: WebhookOptions;
  history: HistoryLimits;
}

export const defaultTuning: HubTuning = {
  infoIntervalMs: 5_000,
  handshakeTimeoutMs: 10_000,
  // The same bound as a frame of the link: a body the hub takes is one a gateway takes (the envelope aside).
  maxBodyBytes: MAX_FRAME_BYTES,
  maxCommandTimeoutMs: MAX_COMMAND_TIMEOUT_MS,
  commandGraceMs: 1_000,
  queueConfirmMs: 10_000,
  maxSubscriberBufferedBytes: 4 * 1024 * 1024,
  webhooks: { maxAttempts: 5, baseDelayMs: 500, timeoutMs: 5_000, maxPending: 10_000, concurrency: 4 },
  // Rings grow as points arrive, to at most 120 points × 16 bytes × 10,000 series: ~19 MB, whatever the fleet.
  history: { eventsPerDevice: 50, pointsPerSeries: 120, pathsPerDevice: 16, maxSeries: 10_000 },
};

/** Where a hub's devices come from: its own registry of gateway sockets, or the broker's retained state. */
export type DeviceSource = Pick<DeviceRegistry, 'list' | 'get'>;

/** How a hub reaches gateways: its own WebSocket sessions, or the broker. */
export interface GatewayLinks {
  isConnected(gateway: string): boolean;
  command(gateway: string, frame: CommandFrame, waitMs: number): Promise<CommandOutcome>;
  info(): GatewayLinkInfo[];
  lastSeq(gateway: string): number;
  readonly connectedCount: number;
  duplicates(): number;
}

export interface FrontDeps {
  log: Logger;
  config: HubConfig;
  tuning: HubTuning;
  devices: DeviceSource;
  gateways: GatewayLinks;
  /** The pub/sub stream's seqs and the window a subscriber may resume from. */
  retained: RetainedEvents;
  /** What the hub remembers of gateways beyond the live links (GET /v1/gateways). */
  storedGateways: () => StoredGateway[];
  knownGateways: () => Iterable<string>;
  /** Where the metrics are registered and what /metrics serves; a registry of its own when not given. */
  metrics?: Registry;
  metricsNeedApiKey?: boolean;
  readiness: () => readonly ReadinessCheck[];
  /**
   * Which published events webhooks get: `all` (a hub alone with its gateways), or only those a client published
   * through `POST /publish` (`published`), when the caller feeds the gateways' events to webhooks itself (a hub
   * on a broker takes them from a shared subscription, so that one hub of many fires each).
   */
  webhookEvents: 'all' | 'published';
  /** Queued commands (docs/api.md "Queued commands"): only a hub with gateway sockets of its own keeps their records. */
  queued?: QueuedCommandsApi;
  /** WebSocket routes of the gateways themselves: no API key, their own handshake. */
  gatewayRoutes?: Record<string, (ws: WebSocket, peer: string) => void>;
  /** Largest message accepted on a gateway route. */
  gatewayMaxPayload?: number;
}

/**
 * What every hub serves, whichever way it reaches its gateways: the HTTP API with its read routes, /healthz,
 * /readyz and /metrics, pub/sub, the info socket and webhooks, on one HTTP(S) server.
 */
export class HubFront {
  readonly pubsub: PubSub;
  readonly webhooks: Webhooks;
  readonly server: http.Server;
  private readonly info: InfoSocket;
  private readonly sockets: WebSocketServer[];

  constructor(private readonly deps: FrontDeps) {
    const { log, config, tuning, devices, gateways } = deps;
    const tls = config.tls && { cert: readTlsFile('cert', config.tls.cert), key: readTlsFile('key', config.tls.key) };
    const pubsub = new PubSub(log, {
      maxBufferedBytes: tuning.maxSubscriberBufferedBytes,
      maxPatternsPerClient: config.maxSubscriptionsPerClient,
      retained: deps.retained,
    });
    const webhooks = new Webhooks(log, config.webhooks, tuning.webhooks);
    pubsub.onPublish((name, data, from) => {
      if (deps.webhookEvents === 'all' || from !== undefined) webhooks.deliver(name, data, from);
    });
    const history = new DeviceHistory(tuning.history);
    pubsub.onPublish(history.record);
    const readApi = new ReadApi({
      storedGateways: deps.storedGateways,
      registry: devices,
      sessions: gateways,
      history,
      knownGateways: deps.knownGateways,
      webhooks: () => webhooks.stats(),
    });
    pubsub.onPublish(readApi.record);
    const api = new HttpApi({
      log,
      apiKey: config.apiKey,
      registry: devices,
      sessions: gateways,
      pubsub,
      queued: deps.queued,
      maxBodyBytes: tuning.maxBodyBytes,
      commandTimeoutMs: config.commandTimeoutMs,
      maxCommandTimeoutMs: tuning.maxCommandTimeoutMs,
      commandGraceMs: tuning.commandGraceMs,
      routes: readApi.routes(),
    });
    this.info = new InfoSocket(log, tuning.infoIntervalMs, () => ({
      type: 'info',
      ts: Date.now(),
      gateways: gateways.info(),
      clients: pubsub.info(),
      webhooks: webhooks.stats(),
    }));
    this.pubsub = pubsub;
    this.webhooks = webhooks;
    const handle = this.requestHandler(api);
    this.server = tls
      ? https.createServer({ ...serverOptions(config), ...tls }, handle)
      : http.createServer(serverOptions(config), handle);
    const gatewayWss = new WebSocketServer({ noServer: true, maxPayload: deps.gatewayMaxPayload });
    const clientWss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    this.sockets = [gatewayWss, clientWss];
    const clientRoutes: Record<string, (ws: WebSocket, req: http.IncomingMessage, url: URL) => void> = {
      '/subscribe': (ws, req, url) => pubsub.attach(ws, req.socket, url.searchParams.get('clientName')!, peerOf(req)),
      '/socket/info': (ws) => this.info.attach(ws),
    };
    const gatewayRoutes = deps.gatewayRoutes ?? {};
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://hub');
      const forGateway = Object.hasOwn(gatewayRoutes, url.pathname);
      if (forGateway) {
        gatewayWss.handleUpgrade(req, socket, head, (ws) => gatewayRoutes[url.pathname]!(ws, peerOf(req)));
        return;
      }
      const route = Object.hasOwn(clientRoutes, url.pathname) ? clientRoutes[url.pathname] : undefined;
      const refusal =
        route === undefined
          ? new HttpError(404, 'not_found', `no WebSocket route ${url.pathname}`)
          : this.refuse(req, url);
      if (refusal) return refuseUpgrade(socket, refusal);
      clientWss.handleUpgrade(req, socket, head, (ws) => route!(ws, req, url));
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
    limitConnections(this.server, config, log);
  }

  async listen(): Promise<number> {
    const { config, log } = this.deps;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(config.port, config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as { port: number }).port;
    log.info({ host: config.host, port, tls: config.tls !== null }, 'hub listening');
    return port;
  }

  /** Subscribers, the info socket and webhooks stop; the caller ends its gateway links first. */
  closeClients(): void {
    this.pubsub.close();
    this.info.close();
    this.webhooks.stop();
  }

  async close(): Promise<void> {
    for (const wss of this.sockets) wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /**
   * Every HTTP request: /healthz, /readyz and /metrics first (no key for health), then the dashboard's files (no
   * key: the page asks for it), then the API. Each request is timed for /metrics by its route pattern.
   */
  private requestHandler(api: HttpApi): http.RequestListener {
    const { config, log, gateways } = this.deps;
    const registry = this.deps.metrics ?? new Registry();
    const metrics = new HubMetrics(registry, {
      gatewaysConnected: () => gateways.connectedCount,
      subscribers: () => this.pubsub.size,
      duplicates: () => gateways.duplicates(),
      slowSubscriberDrops: () => this.pubsub.dropped(),
      webhooks: () => this.webhooks.stats(),
    });
    this.pubsub.onPublish(metrics.publishedEvent);
    const needKey = this.deps.metricsNeedApiKey ?? true;
    const files = new DashboardFiles();
    const operator = operatorRoutes({
      registry,
      mayReadMetrics: (req, url) => !needKey || isAuthorized(req, url, config.apiKey),
      readiness: this.deps.readiness,
    });
    return (req, res) => {
      const url = new URL(req.url ?? '/', 'http://hub');
      metrics.timeRequest(req, res, () => routeOf(url.pathname));
      operator(req, res, url).then(
        (handled) => {
          if (!handled && !files.serve(req, res, url)) api.handle(req, res);
        },
        (err: unknown) => {
          log.error({ err }, 'operator route failed');
          if (!res.headersSent) res.writeHead(500);
          res.end();
        },
      );
    };
  }

  /** Clients' WebSockets need the API key and, on /subscribe, a name. */
  private refuse(req: http.IncomingMessage, url: URL): HttpError | undefined {
    if (!isAuthorized(req, url, this.deps.config.apiKey)) {
      return new HttpError(401, 'unauthorized', 'a valid API key is required');
    }
    if (url.pathname === '/subscribe' && !url.searchParams.get('clientName')) {
      return new HttpError(400, 'bad_request', 'clientName: required in the query');
    }
    return undefined;
  }
}

/** A TLS file that cannot be read is a configuration error naming the setting (and PiCloud's variable for it). */
function readTlsFile(which: 'cert' | 'key', file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const variable = which === 'cert' ? 'CERT_FILE' : 'KEY_FILE';
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`hub.tls.${which} (${variable}): cannot read ${file} (${code}); name a readable PEM file`);
  }
}

function peerOf(req: http.IncomingMessage): string {
  return formatAddress(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0);
}

/** An HTTP reply on the raw socket of a refused upgrade, in the API's error format. */
function refuseUpgrade(socket: Duplex, error: HttpError): void {
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  socket.end(
    `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
