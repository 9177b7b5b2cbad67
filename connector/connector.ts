import type { Cancel, Enqueue, Execute } from '../src/command.js';
import type { PlatformConfig } from '../src/config.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Registry } from '../src/metrics/index.js';
import type { Store } from '../src/store/index.js';
import { Backoff } from './backoff.js';
import { feedUpstream } from './bus-feed.js';
import { CommandRunner } from './commands.js';
import { dispatch, type Session } from './handlers.js';
import { Link, type LinkTls } from './link.js';
import { ConnectorMetrics } from './metrics.js';
import { closeCodes, errorFrameFor, type FrameProblem, type GatewayFrame, type ResultFrame } from './protocol/index.js';
import { snapshotParts } from './snapshot.js';
import { Upstream } from './upstream.js';

export type ConnectorState = 'connecting' | 'authenticating' | 'online' | 'offline';

export interface ConnectorDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: PlatformConfig;
  execute: Execute;
  /** Queued commands (`"queue": true`) and their cancellation; without them such commands are refused. */
  enqueue?: Enqueue;
  cancel?: Cancel;
  /** How a wss:// link checks the hub's certificate (default: the system's CAs). */
  tls?: LinkTls;
  /** Where the link's metrics are registered, if anywhere. */
  metrics?: Registry;
}

/** How long an open socket may take to get from `challenge` to `welcome`. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long stop() waits for the hub to acknowledge the close before dropping the socket. */
const CLOSE_GRACE_MS = 2_000;

/** What a close code means to the person reading the log. */
const closeExplanations: Record<number, string> = {
  [closeCodes.badCredentials]: 'the platform refused the credentials (check platform.gatewayId and platform.secret)',
  [closeCodes.handshakeTimeout]: 'the handshake did not finish in time',
  [closeCodes.replaced]: 'another session with the same gateway id replaced this one',
  [closeCodes.protocolError]: 'the platform reported a protocol error',
  [closeCodes.duplicateGateway]:
    'another gateway with the same platform.gatewayId (and another database) is connected; give each gateway its own id',
  [closeCodes.goingAway]: 'the platform is going away',
};

/**
 * The gateway's one long-lived link to the platform (docs/design.md "Wire contract"): connects out, answers
 * the challenge, then streams the outbox upstream and runs commands downstream; reconnects forever with
 * exponential backoff and full jitter.
 */
export class Connector {
  private readonly upstream: Upstream;
  private readonly commands: CommandRunner;
  private readonly backoff: Backoff;
  private readonly metrics: ConnectorMetrics | undefined;
  private current: ConnectorState = 'offline';
  private running = false;
  private link: Link | undefined;
  private online: Link | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void)[] = [];
  private lastProblem = '';
  private linkClosed: (() => void) | undefined;

  constructor(private readonly deps: ConnectorDeps) {
    this.upstream = new Upstream(deps.store, deps.log);
    this.commands = new CommandRunner(deps.execute, deps.log, { enqueue: deps.enqueue, cancel: deps.cancel });
    this.backoff = new Backoff(deps.config.reconnectMinMs, deps.config.reconnectMaxMs);
    this.metrics = deps.metrics && new ConnectorMetrics(deps.metrics, () => this.current);
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.deps.config.url === null) throw new Error('platform.url is not set: the connector has nowhere to go');
    this.running = true;
    this.subscribe();
    this.connect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.upstream.close();
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.handshakeTimer);
    const link = this.link;
    if (link !== undefined) {
      const closed = new Promise<void>((resolve) => (this.linkClosed = resolve));
      link.close(closeCodes.normal, 'gateway stopping');
      const grace = setTimeout(() => link.terminate(), CLOSE_GRACE_MS);
      await closed;
      clearTimeout(grace);
    }
    this.setState('offline');
  }

  state(): ConnectorState {
    return this.current;
  }

  private subscribe(): void {
    this.unsubscribe.push(...feedUpstream(this.deps.bus, this.upstream, true));
  }

  private connect(): void {
    this.setState('connecting');
    // Link's events fire from the socket, never during its constructor: `session` exists by then.
    const link = new Link(
      this.deps.config.url!,
      {
        open: () => this.opened(link),
        frame: (frame) => dispatch(session, frame),
        close: (code, reason) => this.closed(link, code, reason),
      },
      this.deps.log,
      this.deps.tls,
    );
    const session = this.sessionOf(link);
    this.link = link;
  }

  private opened(link: Link): void {
    this.setState('authenticating');
    this.handshakeTimer = setTimeout(
      () => link.close(closeCodes.handshakeTimeout, 'no welcome from the platform in time'),
      HANDSHAKE_TIMEOUT_MS,
    );
  }

  private welcomed(link: Link, lastSeq: number, heartbeatSeconds: number): void {
    clearTimeout(this.handshakeTimer);
    this.online = link;
    this.lastProblem = '';
    this.backoff.reset();
    this.setState('online', { lastSeq, unacked: this.deps.store.outbox.count() });
    link.startHeartbeat(heartbeatSeconds);
    const { store } = this.deps;
    // All parts go out in this turn, before any outbox frame: the hub sees the snapshot whole, then what followed it.
    for (const part of snapshotParts(store.outbox.lastSeq(), store.devices.list(), (d) => store.info(d))) {
      link.send(part);
    }
    this.upstream.attach((frame) => link.send(frame), lastSeq);
  }

  private closed(link: Link, code: number, reason: string): void {
    if (link !== this.link) return;
    clearTimeout(this.handshakeTimer);
    this.link = undefined;
    this.online = undefined;
    this.upstream.detach();
    if (!this.running) {
      this.linkClosed?.();
      return;
    }
    if (code === closeCodes.badCredentials || code === closeCodes.duplicateGateway) this.backoff.exhaust();
    const delay = this.backoff.next();
    this.noteProblem(code, reason, delay);
    this.setState('offline');
    this.metrics?.reconnecting();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** One log line per distinct problem, not one per retry while the hub stays away. */
  private noteProblem(code: number, reason: string, retryInMs: number): void {
    const explanation = closeExplanations[code] ?? (reason || 'connection lost or refused');
    const problem = `${code} ${explanation}`;
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    const level = code === closeCodes.badCredentials || code === closeCodes.duplicateGateway ? 'error' : 'warn';
    this.deps.log[level]({ code, reason, retryInMs }, `platform link down: ${explanation}`);
  }

  private setState(next: ConnectorState, details: Record<string, unknown> = {}): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.metrics?.changed();
    const quiet = next === 'connecting' || next === 'authenticating' || (next === 'offline' && previous !== 'online');
    this.deps.log[quiet ? 'debug' : 'info']({ state: next, from: previous, ...details }, `platform link ${next}`);
  }

  /** The handlers' view of one link (see handlers.ts). */
  private sessionOf(link: Link): Session {
    let heartbeat = 0;
    let challenged = false;
    let phase: Session['phase'] = 'authenticating';
    const { config, log } = this.deps;
    return {
      get phase() {
        return phase;
      },
      get challenged() {
        return challenged;
      },
      gatewayId: config.gatewayId,
      instance: this.deps.store.instance,
      secret: config.secret,
      upstream: this.upstream,
      commands: this.commands,
      log,
      send: (frame: GatewayFrame) => link.send(frame),
      reply: (result: ResultFrame) => this.online?.send(result),
      refuse: (problem: FrameProblem) => {
        log.warn({ problem }, 'refused a frame from the platform');
        link.send(errorFrameFor(problem));
      },
      answered: (seconds: number) => {
        challenged = true;
        heartbeat = seconds;
      },
      welcomed: (lastSeq: number) => {
        phase = 'online';
        this.welcomed(link, lastSeq, heartbeat);
      },
    };
  }
}
