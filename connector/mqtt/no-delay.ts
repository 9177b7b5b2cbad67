import type { MqttClient } from 'mqtt';

/**
 * Nagle's algorithm off on the client's socket (mqtt.js leaves it on): a command and its result are small
 * packets each waiting for the other side's delayed ACK otherwise, some 40 ms per hop. Brokers have the same
 * switch (mosquitto: `set_tcp_nodelay true`), see docs/scale-out.md.
 */
export function noDelay(client: MqttClient): void {
  client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
}
