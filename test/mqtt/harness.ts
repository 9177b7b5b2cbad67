import fs from 'node:fs';
import path from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { CoregateProcess } from '../connector/platform-harness.js';
import { waitFor } from '../helpers/wait.js';

/** A message as a test client of the broker saw it. */
export interface Seen {
  topic: string;
  text: string;
  json: unknown;
  retain: boolean;
  /** MQTT DUP flag: the broker is resending a message it may have delivered before (3.1.1 §3.3.1.1). */
  dup: boolean;
}

/**
 * A plain MQTT client of the broker standing in for the platform (ThingsBoard, a coregate hub's view): a persistent
 * session, so that what is published while it is away (the broker restarting) is delivered when it is back.
 */
export class BrokerClient {
  readonly seen: Seen[] = [];
  /** The Session Present flag of each CONNACK: whether the broker still had this client's session. */
  readonly sessions: boolean[] = [];
  /** Broker resends of messages already received (see the constructor). */
  redelivered = 0;

  private constructor(readonly client: MqttClient) {
    client.on('connect', (connack) => this.sessions.push(connack.sessionPresent));
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      // The broker → this client hop is QoS 1 as well: after a broker restart it resends, flagged DUP, what it
      // had not seen acknowledged. ThingsBoard, being the broker, has no such hop; a copy is dropped here so that
      // what is checked is what the gateway delivered.
      if (packet.dup && this.seen.some((m) => m.topic === topic && m.text === text)) {
        this.redelivered++;
        return;
      }
      this.seen.push({ topic, text, json, retain: packet.retain, dup: packet.dup });
    });
  }

  static async connect(url: string, clientId: string, topics: string[]): Promise<BrokerClient> {
    const client = connect(url, {
      clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 100,
    });
    const peer = new BrokerClient(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(Object.fromEntries(topics.map((t) => [t, { qos: 1 as const }])));
    return peer;
  }

  on(topic: string): Seen[] {
    return this.seen.filter((message) => message.topic === topic);
  }

  publish(topic: string, payload: string | object): Promise<unknown> {
    return this.client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** `coregate start` against a broker: things register on its CoAP port, everything upstream goes to MQTT. */
export async function startMqttGateway(
  dir: string,
  brokerUrl: string,
  platform: Record<string, unknown> = {},
  { coapPort = 0, name = 'gateway' } = {},
): Promise<{ gateway: CoregateProcess; coapPort: number }> {
  const file = path.join(dir, `${name}.config.json`);
  const config = {
    db: path.join(dir, `${name}.db`),
    coap: { bind: '127.0.0.1', port: coapPort },
    discovery: { enabled: false },
    pinger: { intervalSeconds: 1, timeoutMs: 500, missesBeforeOffline: 2 },
    platform: { url: brokerUrl, gatewayId: name, reconnectMinMs: 50, reconnectMaxMs: 300, ...platform },
  };
  fs.writeFileSync(file, JSON.stringify(config));
  const gateway = CoregateProcess.start(['start', '--config', file]);
  const line = await gateway.logged({ component: 'rd', msg: 'coap server listening' });
  return { gateway, coapPort: line.port as number };
}

export async function online(gateway: CoregateProcess, after = 0): Promise<void> {
  await waitFor(
    () => gateway.lines.filter((line) => line.component === 'connector' && line.state === 'online').length > after,
    { what: 'the platform link online', timeoutMs: 20_000 },
  );
}
