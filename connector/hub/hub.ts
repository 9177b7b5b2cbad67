import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { HubConfig } from '../../src/config.js';
import type { ReadinessCheck, Registry } from '../../src/metrics/index.js';
import { BackgroundCheckpointer, openDatabase, WriteBatch, type Db } from '../../src/store/index.js';
import { closeCodes, WS_MAX_PAYLOAD_BYTES } from '../protocol/index.js';
import { CommandRecords } from './command-records.js';
import { PendingCommands } from './commands.js';
import { DeviceRegistry } from './device-registry.js';
import { defaultTuning, HubFront, type HubTuning } from './front.js';
import { GatewaySessions } from './gateway-sessions.js';
import { HttpError } from './http-io.js';
import { migrations } from './migrations.js';
import { QueuedCommandsApi } from './queued-commands-api.js';
import type { StoredGateway } from './read-api.js';
import { RetainedEvents } from './retained-events.js';
import { SeqLedger } from './seq-ledger.js';

export { defaultTuning, type HubTuning } from './front.js';

/** Gateways connect here (or to `/`, so a bare `ws://host:port` platform URL works too). */
export const GATEWAY_PATH = '/v1/gateway';

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
  checkpointer: BackgroundCheckpointer | undefined;
  front: HubFront;
  sessions: GatewaySessions;
  pending: PendingCommands;
  commit: () => boolean;
}

/**
 * The platform side (docs/design.md "Hub API") with gateway sockets of its own: the gateways' WebSocket route,
 * their devices and last seqs in its SQLite file, and what every hub serves (front.ts).
 */
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
    const db = openDatabase(config.db, migrations);
    // As the gateway's store does: the WAL is checkpointed from a worker thread, so its copy and fsync never
    // stall the event loop (an embedded hub's autocheckpoint stalled the gateway's loop ~60 ms at a time).
    const checkpointer = config.db === ':memory:' ? undefined : new BackgroundCheckpointer(config.db);
    // Group commit, as the gateway's store does: every write joins a batch committed within a few ms, or
    // at once where an ack must follow it (docs/architecture.md, "How a write becomes durable").
    const writes = new WriteBatch(db, log);
    const registry = new DeviceRegistry(db, writes);
    const ledger = new SeqLedger(db, writes);
    const pending = new PendingCommands();
    const records = new CommandRecords(db);
    const commit = (): boolean => {
      ledger.flush();
      registry.flush();
      return writes.commit();
    };
    const sessions = new GatewaySessions({
      log,
      heartbeatSeconds: config.heartbeatSeconds,
      handshakeTimeoutMs: this.tuning.handshakeTimeoutMs,
      secrets: this.secrets,
      ledger,
      registry,
      pending,
      records,
      // `front` is built below; no event is published before start() returns.
      publish: (name, data) => front.pubsub.publish(name, data),
      durable: () => writes.durable(),
    });
    const storedGateways = db.prepare('SELECT id, last_seq, last_connected_at FROM gateways');
    const attach = (ws: WebSocket, peer: string) => sessions.attach(ws, peer);
    const front: HubFront = new HubFront({
      log,
      config,
      tuning: this.tuning,
      devices: registry,
      gateways: sessions,
      retained: new RetainedEvents(db, writes, config.retainedEvents),
      storedGateways: () => storedGateways.all() as StoredGateway[],
      knownGateways: () => this.secrets.keys(),
      metrics: this.deps.metrics,
      metricsNeedApiKey: this.deps.metricsNeedApiKey,
      readiness: () => [
        { name: 'hub_db', check: () => db.open || 'the hub database is closed' },
        {
          name: 'gateways_known',
          check: () => this.secrets.size > 0 || 'no gateway may connect (hub.gateways is empty)',
        },
        ...(this.deps.readiness?.() ?? []),
      ],
      webhookEvents: 'all',
      queued: new QueuedCommandsApi({ registry, sessions, records, confirmTimeoutMs: this.tuning.queueConfirmMs }),
      gatewayRoutes: { [GATEWAY_PATH]: attach, '/': attach },
      gatewayMaxPayload: WS_MAX_PAYLOAD_BYTES,
    });
    const port = await front.listen();
    this.running = { db, checkpointer, front, sessions, pending, commit };
    return { port };
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    running.sessions.closeAll(closeCodes.goingAway, 'hub shutting down');
    running.pending.failSession(undefined, new HttpError(503, 'gateway_disconnected', 'the hub is shutting down'));
    running.front.closeClients();
    running.sessions.terminateAll();
    await running.front.close();
    running.commit();
    await running.checkpointer?.stop();
    running.db.close();
  }
}
