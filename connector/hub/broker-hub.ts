import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { HubConfig } from '../../src/config.js';
import type { Registry } from '../../src/metrics/index.js';
import { openDatabase, WriteBatch, type Db } from '../../src/store/index.js';
import {
  parseDeviceState,
  parseResult,
  parseStatus,
  parseUp,
  coregateTopics,
  coregateWildcards,
  parseCoregateTopic,
  encodeFrame,
  type CommandFrame,
} from '../protocol/index.js';
import { connectBroker } from './broker-client.js';
import { BrokerView } from './broker-view.js';
import { PendingCommands, type CommandOutcome } from './commands.js';
import { defaultTuning, HubFront, type GatewayLinks, type HubTuning } from './front.js';
import { hubEventOf, type HubEvent } from './hub-events.js';
import { HttpError } from './http-io.js';
import { migrations } from './migrations.js';
import { RetainedEvents } from './retained-events.js';

export interface BrokerHubDeps {
  log: Logger;
  config: HubConfig;
  tuning?: Partial<HubTuning>;
  metrics?: Registry;
  metricsNeedApiKey?: boolean;
}

interface Running {
  front: HubFront;
  view: MqttClient;
  webhooks: MqttClient;
  pending: PendingCommands;
  db: Db;
}

/**
 * A hub with no gateway sockets of its own (`coregate hub --broker`, docs/scale-out.md): it learns devices and
 * gateway liveness from the broker's retained messages, fans every gateway's upstream out to its own pub/sub
 * subscribers, and sends commands through the broker, matching results by command id. Any number run side by
 * side: each sees everything, and a shared subscription hands each upstream message to one hub for webhooks.
 */
export class BrokerHub {
  private readonly tuning: HubTuning;
  private readonly url: string;
  private running: Running | undefined;

  constructor(private readonly deps: BrokerHubDeps) {
    this.tuning = { ...defaultTuning, ...deps.tuning };
    if (deps.config.broker.url === null) throw new Error('hub.broker.url is not set');
    this.url = deps.config.broker.url;
  }

  async start(): Promise<{ port: number }> {
    if (this.running) throw new Error('hub already started');
    const { log, config } = this.deps;
    const view = new BrokerView();
    // The pub/sub's resume window (docs/api.md) is this hub's own: in memory, like everything a broker hub holds.
    const db = openDatabase(':memory:', migrations);
    const retained = new RetainedEvents(db, new WriteBatch(db, log), config.retainedEvents);
    const pending = new PendingCommands();
    const id = `coregate-hub-${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const broker = { ...config.broker, url: this.url };
    const viewClient = connectBroker(broker, `${id}-view`);
    const webhookClient = connectBroker(broker, `${id}-webhooks`);
    const gateways: GatewayLinks = {
      isConnected: (gateway) => view.isConnected(gateway),
      command: (gateway, frame, waitMs) => this.command(viewClient, view, pending, gateway, frame, waitMs),
      info: () => view.info(),
      lastSeq: (gateway) => view.lastSeq(gateway),
      get connectedCount() {
        return view.connectedCount;
      },
      duplicates: () => view.duplicates(),
    };
    const front = new HubFront({
      log,
      config,
      tuning: this.tuning,
      devices: view,
      gateways,
      retained,
      storedGateways: () => view.stored(),
      knownGateways: () => view.gatewayIds(),
      metrics: this.deps.metrics,
      metricsNeedApiKey: this.deps.metricsNeedApiKey,
      readiness: () => [{ name: 'broker', check: () => viewClient.connected || `not connected to ${this.url}` }],
      webhookEvents: 'published',
    });
    this.running = { front, view: viewClient, webhooks: webhookClient, pending, db };

    viewClient.on('message', (topic, payload, packet) => {
      for (const event of this.onView(view, pending, topic, payload, packet.retain))
        front.pubsub.publish(event.name, event.data);
    });
    const webhookSeqs = new BrokerView();
    webhookClient.on('message', (topic, payload, packet) => {
      for (const event of this.onShared(webhookSeqs, topic, payload, packet.retain))
        front.webhooks.deliver(event.name, event.data);
    });
    this.watch(viewClient, 'view', [
      coregateWildcards.devices,
      coregateWildcards.status,
      coregateWildcards.up,
      coregateWildcards.result,
    ]);
    const share = `$share/${config.broker.shareGroup}/`;
    this.watch(webhookClient, 'webhooks', [share + coregateWildcards.up, share + coregateWildcards.status]);
    const port = await front.listen();
    log.info({ broker: this.url, shareGroup: config.broker.shareGroup }, 'hub in broker mode');
    return { port };
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    running.pending.failSession(undefined, new HttpError(503, 'gateway_disconnected', 'the hub is shutting down'));
    running.front.closeClients();
    await Promise.all([running.view.endAsync(), running.webhooks.endAsync()]);
    await running.front.close();
    running.db.close();
  }

  /** Subscribes on every (re)connect: clean sessions keep no subscriptions. */
  private watch(client: MqttClient, role: string, topics: string[]): void {
    const { log } = this.deps;
    let problem = '';
    client.on('connect', () => {
      problem = '';
      client.subscribe(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])), (err) => {
        if (err) log.error({ err: err.message, role }, 'broker subscription failed');
        else log.info({ role, topics }, 'subscribed to the broker');
      });
    });
    client.on('error', (err) => {
      if (err.message === problem) return;
      problem = err.message;
      log.warn({ err: err.message, role }, 'broker connection problem');
    });
  }

  /** A message on the full view: state into the view, live upstream into hub events, results to their commands. */
  private onView(
    view: BrokerView,
    pending: PendingCommands,
    topic: string,
    payload: Buffer,
    retained: boolean,
  ): HubEvent[] {
    const where = parseCoregateTopic(topic);
    if (where === undefined) return [];
    const { gateway } = where;
    switch (where.kind) {
      case 'device': {
        const parsed = parseDeviceState(payload, where.device!);
        if (!parsed.ok) return this.refused(topic, parsed.error);
        view.device(gateway, where.device!, parsed.value);
        return [];
      }
      case 'status': {
        const parsed = parseStatus(payload);
        if (!parsed.ok) return this.refused(topic, parsed.error);
        if (!view.status(gateway, parsed.value)) return [];
        const online = view.isConnected(gateway);
        if (!online) {
          const why = `gateway ${gateway} went offline before the device answered`;
          pending.failSession(gateway, new HttpError(503, 'gateway_disconnected', why));
        }
        // A retained status is the state as this hub found it, not a change it saw happen.
        return retained ? [] : [gatewayEvent(gateway, online)];
      }
      case 'up': {
        const parsed = parseUp(payload);
        if (!parsed.ok) return this.refused(topic, parsed.error);
        return view.fresh(gateway, parsed.value).map((frame) => hubEventOf(gateway, frame));
      }
      case 'result': {
        const parsed = parseResult(payload);
        if (!parsed.ok) return this.refused(topic, parsed.error);
        const frame = parsed.value;
        if (frame.type === 'result') pending.settle(gateway, frame);
        else if (frame.ref !== undefined) {
          pending.fail(
            frame.ref,
            gateway,
            new HttpError(502, 'gateway_error', `the gateway refused the command: ${frame.message}`),
          );
        }
        return [];
      }
      default:
        return [];
    }
  }

  /** A message of the shared subscription: this hub's share of the events that webhooks fire for. */
  private onShared(seqs: BrokerView, topic: string, payload: Buffer, retained: boolean): HubEvent[] {
    const where = parseCoregateTopic(topic);
    if (where === undefined || retained) return [];
    if (where.kind === 'status') {
      const parsed = parseStatus(payload);
      return parsed.ok && parsed.value !== null ? [gatewayEvent(where.gateway, parsed.value.online)] : [];
    }
    if (where.kind !== 'up') return [];
    const parsed = parseUp(payload);
    if (!parsed.ok) return [];
    return seqs.fresh(where.gateway, parsed.value).map((frame) => hubEventOf(where.gateway, frame));
  }

  private command(
    client: MqttClient,
    view: BrokerView,
    pending: PendingCommands,
    gateway: string,
    frame: CommandFrame,
    waitMs: number,
  ): Promise<CommandOutcome> {
    if (!view.isConnected(gateway) || !client.connected) {
      const why = client.connected
        ? `gateway ${gateway} is not connected to the broker`
        : 'the hub is not connected to the broker';
      return Promise.resolve({ ok: false, error: new HttpError(503, 'gateway_disconnected', why) });
    }
    const outcome = pending.wait(frame.id, gateway, waitMs);
    client.publish(coregateTopics(gateway).command, encodeFrame(frame), { qos: 1 }, (err) => {
      if (err)
        pending.fail(
          frame.id,
          gateway,
          new HttpError(503, 'gateway_disconnected', `the broker did not take the command: ${err.message}`),
        );
    });
    return outcome;
  }

  private refused(topic: string, problem: string): [] {
    this.deps.log.warn({ topic, problem }, 'refused a message from the broker');
    return [];
  }
}

function gatewayEvent(gateway: string, online: boolean): HubEvent {
  return { name: online ? 'gateway.connected' : 'gateway.disconnected', data: { gateway } };
}
