import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_COMMAND_TIMEOUT_MS } from '../../src/command.js';
import { ConfigError, type HubConfig } from '../../src/config.js';
import { formatAddress } from '../../src/coap/peer.js';
import { operatorRoutes, Registry, type ReadinessCheck } from '../../src/metrics/index.js';
import { openDatabase, WriteBatch, type Db } from '../../src/store/index.js';
import { closeCodes, MAX_FRAME_BYTES, WS_MAX_PAYLOAD_BYTES } from '../protocol/index.js';
import { isAuthorized } from './auth.js';
import { PendingCommands } from './commands.js';
import { DashboardFiles } from './dashboard-files.js';
import { DeviceRegistry } from './device-registry.js';
import { GatewaySessions } from './gateway-sessions.js';
import { DeviceHistory, type HistoryLimits } from './history.js';
import { HttpApi } from './http-api.js';
import { HttpError } from './http-io.js';
import { limitConnections, serverOptions } from './connection-limits.js';
import { InfoSocket } from './info-socket.js';
import { HubMetrics, routeOf } from './metrics.js';
import { migrations } from './migrations.js';
import { PubSub } from './pubsub.js';
import { RetainedEvents } from './retained-events.js';
import { ReadApi } from './read-api.js';
import { SeqLedger } from './seq-ledger.js';
import { Webhooks, type WebhookOptions } from './webhooks.js';

/** Gateways connect here (or to `/`, so a bare `ws://host:port` platform URL works too). */
export const GATEWAY_PATH = '/v1/gateway';

/** Knobs with production defaults; tests shorten the intervals. */
export interface HubTuning {
  infoIntervalMs: number;
  handshakeTimeoutMs: number;
  maxBodyBytes: number;
  maxCommandTimeoutMs: number;
  commandGraceMs: number;
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
  maxSubscriberBufferedBytes: 4 * 1024 * 1024,
  webhooks: { maxAttempts: 5, baseDelayMs: 500, timeoutMs: 5_000, maxPending: 10_000, concurrency: 4 },
  // Rings grow as points arrive, to at most 120 points × 16 bytes × 10,000 series: ~19 MB, whatever the fleet.
  history: { eventsPerDevice: 50, pointsPerSeries: 120, pathsPerDevice: 16, maxSeries: 10_000 },
};

export interface HubDeps {
  log: Logger;
  config: HubConfig;
  tuning?: Partial<HubTuning>;
  /** Where the hub registers its metrics and what /metrics serves (the program adds Node's defaults to it). */
  metrics?: Registry;
  /** Whether /metrics needs the API key (default true); /healthz and /readyz never do. */
  metricsNeedApiKey?: boolean;
  /** Further readiness checks for /readyz (an embedded hub's gateway: store, RD, link). */
  readiness?: () => readonly ReadinessCheck[];
}

interface Running {
  db: Db;
  server: http.Server;
  sessions: GatewaySessions;
  pending: PendingCommands;
  pubsub: PubSub;
  info: InfoSocket;
  webhooks: Webhooks;
  sockets: WebSocketServer[];
  commit: () => void;
}

/** The platform side (docs/design.md "Hub API"): gateways' WebSocket route, HTTP API, pub/sub, info socket, webhooks. */
export class Hub {
  private readonly secrets = new Map<string, string>();
  private readonly tuning: HubTuning;
  private running: Running | undefined;

  constructor(private readonly deps: HubDeps) {
    this.tuning = { ...defaultTuning, ...deps.tuning };
    for (const [id, secret] of Object.entries(deps.config.gateways)) this.secrets.set(id, secret);
  }

  /** Accepts gateway `id` with `secret` from now on (the embedded hub adds the local gateway this way). */
  addGateway(id: string, secret: string): void {
    this.secrets.set(id, secret);
  }

  async start(): Promise<{ port: number }> {
    if (this.running) throw new Error('hub already started');
    const { log, config } = this.deps;
    const tuning = this.tuning;
    const tls = config.tls && { cert: readTlsFile('cert', config.tls.cert), key: readTlsFile('key', config.tls.key) };
    const db = openDatabase(config.db, migrations);
    // Group commit, as the gateway's store does: every write joins a batch committed within a few ms, or
    // at once where an ack must follow it (docs/architecture.md, "How a write becomes durable").
    const writes = new WriteBatch(db, log);
    const registry = new DeviceRegistry(db, writes);
    const ledger = new SeqLedger(db, writes);
    const pending = new PendingCommands();
    const pubsub = new PubSub(log, {
      maxBufferedBytes: tuning.maxSubscriberBufferedBytes,
      maxPatternsPerClient: config.maxSubscriptionsPerClient,
      retained: new RetainedEvents(db, writes, config.retainedEvents),
    });
    const webhooks = new Webhooks(log, config.webhooks, tuning.webhooks);
    pubsub.onPublish((name, data, from) => webhooks.deliver(name, data, from));
    const history = new DeviceHistory(tuning.history);
    pubsub.onPublish(history.record);
    const commit = (): boolean => {
      ledger.flush();
      registry.flush();
      return writes.commit();
    };
    const sessions = new GatewaySessions({
      log,
      heartbeatSeconds: config.heartbeatSeconds,
      handshakeTimeoutMs: tuning.handshakeTimeoutMs,
      secrets: this.secrets,
      ledger,
      registry,
      pending,
      publish: (name, data) => pubsub.publish(name, data),
      commit,
      durable: () => writes.durable(),
    });
    const readApi = new ReadApi({
      db,
      registry,
      sessions,
      history,
      knownGateways: () => this.secrets.keys(),
      webhooks: () => webhooks.stats(),
    });
    pubsub.onPublish(readApi.record);
    const api = new HttpApi({
      log,
      apiKey: config.apiKey,
      registry,
      sessions,
      pubsub,
      maxBodyBytes: tuning.maxBodyBytes,
      commandTimeoutMs: config.commandTimeoutMs,
      maxCommandTimeoutMs: tuning.maxCommandTimeoutMs,
      commandGraceMs: tuning.commandGraceMs,
      routes: readApi.routes(),
    });
    const info = new InfoSocket(log, tuning.infoIntervalMs, () => ({
      type: 'info',
      ts: Date.now(),
      gateways: sessions.info(),
      clients: pubsub.info(),
      webhooks: webhooks.stats(),
    }));
    const handle = this.requestHandler(db, sessions, pubsub, webhooks, api);
    const server = tls
      ? https.createServer({ ...serverOptions(config), ...tls }, handle)
      : http.createServer(serverOptions(config), handle);
    const gatewayWss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD_BYTES });
    const clientWss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    const routes: Record<string, (ws: WebSocket, req: http.IncomingMessage, url: URL) => void> = {
      [GATEWAY_PATH]: (ws, req) => sessions.attach(ws, peerOf(req)),
      '/': (ws, req) => sessions.attach(ws, peerOf(req)),
      '/subscribe': (ws, req, url) => pubsub.attach(ws, req.socket, url.searchParams.get('clientName')!, peerOf(req)),
      '/socket/info': (ws) => info.attach(ws),
    };
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://hub');
      const route = routes[url.pathname];
      const forGateway = url.pathname === GATEWAY_PATH || url.pathname === '/';
      const refusal =
        route === undefined
          ? new HttpError(404, 'not_found', `no WebSocket route ${url.pathname}`)
          : this.refuseClient(req, url, forGateway);
      if (refusal) return refuseUpgrade(socket, refusal);
      const wss = forGateway ? gatewayWss : clientWss;
      wss.handleUpgrade(req, socket, head, (ws) => route!(ws, req, url));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    limitConnections(server, config, log);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.running = { db, server, sessions, pending, pubsub, info, webhooks, sockets: [gatewayWss, clientWss], commit };
    const port = (server.address() as { port: number }).port;
    log.info({ host: config.host, port, tls: config.tls !== null }, 'hub listening');
    return { port };
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    running.sessions.closeAll(closeCodes.goingAway, 'hub shutting down');
    running.pending.failSession(undefined, new HttpError(503, 'gateway_disconnected', 'the hub is shutting down'));
    running.pubsub.close();
    running.info.close();
    running.webhooks.stop();
    running.sessions.terminateAll();
    for (const wss of running.sockets) wss.close();
    await new Promise<void>((resolve) => {
      running.server.close(() => resolve());
      running.server.closeAllConnections();
    });
    running.commit();
    running.db.close();
  }

  /**
   * Every HTTP request: /healthz, /readyz and /metrics first (no key for health), then the dashboard's files (no
   * key: the page asks for it), then the API. Each request is timed for /metrics by its route pattern.
   */
  private requestHandler(
    db: Db,
    sessions: GatewaySessions,
    pubsub: PubSub,
    webhooks: Webhooks,
    api: HttpApi,
  ): http.RequestListener {
    const { config, log } = this.deps;
    const registry = this.deps.metrics ?? new Registry();
    const metrics = new HubMetrics(registry, {
      gatewaysConnected: () => sessions.connectedCount,
      subscribers: () => pubsub.size,
      duplicates: () => sessions.duplicates(),
      slowSubscriberDrops: () => pubsub.dropped(),
      webhooks: () => webhooks.stats(),
    });
    pubsub.onPublish(metrics.publishedEvent);
    const needKey = this.deps.metricsNeedApiKey ?? true;
    const files = new DashboardFiles();
    const operator = operatorRoutes({
      registry,
      mayReadMetrics: (req, url) => !needKey || isAuthorized(req, url, config.apiKey),
      readiness: () => [
        { name: 'hub_db', check: () => db.open || 'the hub database is closed' },
        {
          name: 'gateways_known',
          check: () => this.secrets.size > 0 || 'no gateway may connect (hub.gateways is empty)',
        },
        ...(this.deps.readiness?.() ?? []),
      ],
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

  /** Gateways authenticate by HMAC on their own route; clients' WebSockets need the API key and, on /subscribe, a name. */
  private refuseClient(req: http.IncomingMessage, url: URL, forGateway: boolean): HttpError | undefined {
    if (forGateway) return undefined;
    if (!isAuthorized(req, url, this.deps.config.apiKey))
      return new HttpError(401, 'unauthorized', 'a valid API key is required');
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
