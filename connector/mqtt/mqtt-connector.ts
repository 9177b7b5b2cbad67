import type { ConnectorDeps, ConnectorState } from '../connector.js';
import { Backoff } from '../backoff.js';
import { feedUpstream } from '../bus-feed.js';
import { CommandRunner } from '../commands.js';
import { ConnectorMetrics } from '../metrics.js';
import { type CommandFrame, type ResultFrame, isTopicLevel } from '../protocol/index.js';
import { Upstream } from '../upstream.js';
import { CoregateDialect } from './coregate.js';
import { DeviceNames } from './device-names.js';
import { InFlight } from './in-flight.js';
import { MqttLink } from './link.js';
import type { Dialect, Publish } from './publish.js';
import { ThingsboardDialect } from './thingsboard.js';

/** How long stop() waits for the PUBACKs of what is in flight, so a restart resends nothing the broker has. */
const DRAIN_MS = 2_000;
/** Replies kept while the broker is away, sent when it is back (the oldest dropped beyond this). */
const MAX_HELD_REPLIES = 1_000;
/** Errors that say nothing about the protocol version: the broker was not reached at all. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

/**
 * The gateway's platform link over MQTT (platform.url `mqtt://` / `mqtts://`): the same outbox and command
 * path as the WebSocket Connector, a different transport under them. Values leave the outbox only at their
 * PUBACK; the session is persistent, so RPCs published while the gateway was away reach it when it returns.
 */
export class MqttConnector {
  private readonly upstream: Upstream;
  private readonly commands: CommandRunner;
  private readonly backoff: Backoff;
  private readonly dialect: Dialect;
  private readonly clientId: string;
  private current: ConnectorState = 'offline';
  private running = false;
  private link: MqttLink | undefined;
  private inFlight: InFlight | undefined;
  private version: 4 | 5;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void)[] = [];
  private held: Publish[] = [];
  private lastProblem = '';
  private readonly metrics: ConnectorMetrics | undefined;

  constructor(private readonly deps: ConnectorDeps) {
    const { config, store, log } = deps;
    this.metrics = deps.metrics && new ConnectorMetrics(deps.metrics, () => this.current);
    this.upstream = new Upstream(store, log);
    this.commands = new CommandRunner(deps.execute, log);
    this.backoff = new Backoff(config.reconnectMinMs, config.reconnectMaxMs);
    this.clientId = config.mqtt.clientId ?? config.gatewayId;
    this.version = config.mqtt.protocolVersion === 4 ? 4 : 5;
    this.dialect =
      config.mqtt.topics === 'coregate'
        ? new CoregateDialect(config.gatewayId, config)
        : new ThingsboardDialect(config, new DeviceNames(store, config.mqtt.deviceName));
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { config } = this.deps;
    if (config.mqtt.topics === 'coregate' && !isTopicLevel(config.gatewayId)) {
      throw new Error(
        `platform.gatewayId ${JSON.stringify(config.gatewayId)} cannot be an MQTT topic level (no "/", "+", "#")`,
      );
    }
    this.running = true;
    this.unsubscribe = feedUpstream(this.deps.bus, this.upstream, false);
    this.connect();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    clearTimeout(this.reconnectTimer);
    // Whatever the workers produced last goes to disk (and out, if the link is up), then waits for its PUBACK.
    this.upstream.close();
    const link = this.link;
    const inFlight = this.inFlight;
    if (link !== undefined && inFlight !== undefined && link.connected) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([inFlight.idle(), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
      clearTimeout(timer);
      this.upstream.close();
      const goodbye = this.dialect.goodbye?.();
      if (goodbye !== undefined) {
        inFlight.publish(goodbye);
        await Promise.race([inFlight.idle(), new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
        clearTimeout(timer);
      }
    }
    this.link = undefined;
    this.inFlight?.kill();
    this.inFlight = undefined;
    this.upstream.detach();
    await link?.end();
    this.setState('offline');
  }

  state(): ConnectorState {
    return this.current;
  }

  private connect(): void {
    this.setState('connecting');
    const { config, log } = this.deps;
    const link: MqttLink = new MqttLink(
      {
        url: config.url!,
        clientId: this.clientId,
        config: config.mqtt,
        protocolVersion: this.version,
        will: this.dialect.will,
      },
      {
        connected: () => void this.connected(link),
        message: (topic, payload) => this.message(topic, payload),
        closed: (error, gotConnack) => this.closed(link, error, gotConnack),
      },
      log,
    );
    this.link = link;
  }

  private async connected(link: MqttLink): Promise<void> {
    this.setState('authenticating');
    try {
      await link.subscribe(this.dialect.subscriptions);
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'mqtt subscribe failed; reconnecting');
      link.destroy();
      return;
    }
    if (link !== this.link || !link.connected) return;
    const inFlight = new InFlight(link, this.dialect, (seq) => this.upstream.ack(seq));
    this.inFlight = inFlight;
    this.lastProblem = '';
    this.backoff.reset();
    const { store } = this.deps;
    for (const message of this.dialect.snapshot(store.devices.list().map((d) => store.info(d))))
      inFlight.publish(message);
    for (const reply of this.held.splice(0)) inFlight.publish(reply);
    // Everything in the outbox is unacked: PUBACKed entries left it (the trim trails the PUBACK by one turn).
    const first = store.outbox.unacked(0, 1)[0];
    this.upstream.attach(inFlight.send, first === undefined ? store.outbox.lastSeq() : first.seq - 1);
    this.setState('online', { mqtt: link.version === 5 ? '5' : '3.1.1', unacked: store.outbox.count() });
  }

  private closed(link: MqttLink, error: Error | undefined, gotConnack: boolean): void {
    if (link !== this.link) return;
    this.link = undefined;
    this.inFlight?.kill();
    this.inFlight = undefined;
    this.upstream.detach();
    if (!this.running) return;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    // A broker without MQTT 5 refuses its CONNECT (3.1.1 §3.1.2.2: return code 1) or just closes: try 3.1.1 next.
    if (
      this.deps.config.mqtt.protocolVersion === 'auto' &&
      !gotConnack &&
      (code === undefined || !NETWORK_ERRORS.has(String(code)))
    ) {
      this.version = this.version === 5 ? 4 : 5;
    }
    const refused =
      error !== undefined && /not authorized|bad user name|bad username|unauthorized/i.test(error.message);
    if (refused) this.backoff.exhaust();
    const delay = this.backoff.next();
    this.noteProblem(error?.message ?? 'connection closed', refused, delay);
    this.setState('offline');
    this.metrics?.reconnecting();
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private message(topic: string, payload: Buffer): void {
    const { log } = this.deps;
    const inbound = this.dialect.inbound(topic, payload);
    switch (inbound.kind) {
      case 'ignore':
        log.debug({ topic, why: inbound.why }, 'mqtt message ignored');
        return;
      case 'problem':
        log.warn({ topic, problem: inbound.message }, 'refused a message from the broker');
        if (inbound.reply !== undefined) this.send(inbound.reply);
        return;
      case 'command':
        this.commands.handle(inbound.frame, (result) => this.send(inbound.reply(result)));
        return;
      case 'commands':
        for (const frame of inbound.frames)
          this.commands.handle(frame, (result) => this.logResult(frame, result, inbound.what));
    }
  }

  /** A shared attribute update has nobody to answer: its outcome goes to the log. */
  private logResult(frame: CommandFrame, result: ResultFrame, what: string): void {
    const { log } = this.deps;
    if ('error' in result) log.warn({ what, path: frame.path, error: result.error }, 'shared attribute update failed');
    else log.info({ what, path: frame.path, code: result.code }, 'shared attribute applied');
  }

  /** A reply goes out now, or when the broker is back. */
  private send(message: Publish): void {
    if (this.inFlight !== undefined && this.link?.connected) {
      this.inFlight.publish(message);
      return;
    }
    this.held.push(message);
    if (this.held.length > MAX_HELD_REPLIES) this.held.shift();
  }

  /** One log line per distinct problem, not one per retry while the broker stays away. */
  private noteProblem(problem: string, refused: boolean, retryInMs: number): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    const explanation = refused ? `the broker refused the credentials (${problem})` : problem;
    this.deps.log[refused ? 'error' : 'warn']({ retryInMs }, `platform link down: ${explanation}`);
  }

  private setState(next: ConnectorState, details: Record<string, unknown> = {}): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.metrics?.changed();
    const quiet = next === 'connecting' || next === 'authenticating' || (next === 'offline' && previous !== 'online');
    this.deps.log[quiet ? 'debug' : 'info'](
      { state: next, from: previous, transport: 'mqtt', ...details },
      `platform link ${next}`,
    );
  }
}
