import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../../src/config.js';
import type { Logger } from '../../src/log.js';
import { accessOptions, noDelay } from '../../src/mqtt-client.js';
import type { Publish } from './publish.js';

export interface MqttLinkListener {
  connected(): void;
  message(topic: string, payload: Buffer): void;
  /** The connection is over (or never came up); `error` explains it when there is one. */
  closed(error: Error | undefined, gotConnack: boolean): void;
}

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  config: MqttConfig;
  protocolVersion: 4 | 5;
  will?: Publish;
}

/** The connection's settings for mqtt.js, from the configuration (README "Connect to ThingsBoard"). */
export function clientOptions(options: MqttLinkOptions): IClientOptions {
  const { config } = options;
  return {
    clientId: options.clientId,
    protocolVersion: options.protocolVersion,
    // A persistent session: the broker keeps our subscriptions and queues RPCs for us while we are away
    // (MQTT 3.1.1 §3.1.2.4). In MQTT 5 a session ends with the connection unless it has an expiry (§3.1.2.11.2).
    clean: false,
    ...(options.protocolVersion === 5 && { properties: { sessionExpiryInterval: config.sessionExpirySeconds } }),
    keepalive: config.keepaliveSeconds,
    // One client per connection, reconnected by the connector: mqtt.js would otherwise resend its own copy of
    // in-flight publishes that the outbox resends too.
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...accessOptions(config),
    // ThingsBoard "Access token": the token is the username, no password.
    ...(config.accessToken !== null && { username: config.accessToken }),
    ...(options.will && {
      will: {
        topic: options.will.topic,
        payload: Buffer.from(options.will.payload),
        qos: 1,
        retain: !!options.will.retain,
      },
    }),
  };
}

/**
 * One MQTT connection (ws's `websocket.js` again: the connection, not what its messages mean). Every publish is
 * QoS 1 and its callback fires at the PUBACK; a connection that drops fails nothing of the outbox, which resends.
 */
export class MqttLink {
  private readonly client: MqttClient;
  private gotConnack = false;
  private ended = false;
  private lastError: Error | undefined;

  constructor(
    readonly options: MqttLinkOptions,
    private readonly listener: MqttLinkListener,
    private readonly log: Logger,
  ) {
    this.client = connect(options.url, clientOptions(options));
    noDelay(this.client);
    this.client.on('connect', () => {
      this.gotConnack = true;
      listener.connected();
    });
    this.client.on('message', (topic, payload) => listener.message(topic, payload));
    this.client.on('error', (err) => {
      this.lastError = err;
      this.log.debug({ err: err.message }, 'mqtt link error');
    });
    this.client.on('close', () => this.onClose());
  }

  get connected(): boolean {
    return this.client.connected && !this.ended;
  }

  get version(): 4 | 5 {
    return this.options.protocolVersion;
  }

  subscribe(topics: readonly string[]): Promise<void> {
    // MQTT 5 "No Local" (§3.8.3.1): a broker that is not ThingsBoard would send our own replies back to us.
    const map = Object.fromEntries(
      topics.map((t) => [t, { qos: 1 as const, ...(this.version === 5 && { nl: true }) }]),
    );
    return new Promise((resolve, reject) => {
      this.client.subscribe(map, (err, granted) => {
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
        if (refused.length > 0)
          return reject(new Error(`broker refused subscriptions: ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      });
    });
  }

  /** QoS 1; `done` gets the PUBACK (no error) or the failure. False when the link is down: nothing was sent. */
  publish(message: Publish, done: (err?: Error) => void): boolean {
    if (!this.connected) return false;
    this.client.publish(message.topic, message.payload, { qos: 1, retain: !!message.retain }, (err) =>
      done(err ?? undefined),
    );
    return true;
  }

  /** A clean DISCONNECT after what was written has gone out; the will is not published. */
  end(): Promise<void> {
    this.ended = true;
    return new Promise((resolve) => this.client.end(false, {}, () => resolve()));
  }

  /** Drops the connection at once (no DISCONNECT: the broker publishes the will). */
  destroy(): void {
    this.ended = true;
    this.client.end(true);
  }

  private onClose(): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.listener.closed(this.lastError, this.gotConnack);
  }

  private closedOnce = false;
}
