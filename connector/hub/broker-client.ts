import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { BrokerHubConfig } from '../../src/config.js';
import { accessOptions, noDelay } from '../../src/mqtt-client.js';

/**
 * An MQTT 5 client of the broker for a hub. MQTT 5 because shared subscriptions (`$share/...`, MQTT 5 §4.8.2)
 * are how hubs split the webhook work. Clean sessions: a hub holds no state worth keeping, and a dead hub's
 * share of the webhook stream goes to the hubs still subscribed instead of queueing for it.
 */
export function connectBroker(config: BrokerHubConfig & { url: string }, clientId: string): MqttClient {
  const options: IClientOptions = {
    clientId,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    keepalive: 30,
    ...accessOptions(config),
  };
  const client = connect(config.url, options);
  noDelay(client);
  return client;
}
