import fs from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';

/** How a client proves itself to a broker and trusts it: the part of the config a gateway and a hub share. */
export interface BrokerAccess {
  username: string | null;
  password: string | null;
  ca: string | null;
  cert: string | null;
  key: string | null;
  rejectUnauthorized: boolean;
}

/** mqtt.js options for `access`: user and password, and for mqtts:// the PEM files read now. */
export function accessOptions(access: BrokerAccess): IClientOptions {
  const read = (file: string | null) => (file === null ? undefined : fs.readFileSync(file));
  return {
    ...(access.username !== null && { username: access.username }),
    ...(access.password !== null && { password: access.password }),
    ca: read(access.ca),
    cert: read(access.cert),
    key: read(access.key),
    rejectUnauthorized: access.rejectUnauthorized,
  };
}
/**
 * Nagle's algorithm off on the client's socket (mqtt.js leaves it on): a command and its result are small
 * packets each waiting for the other side's delayed ACK otherwise, some 40 ms per hop. Brokers have the same
 * switch (mosquitto: `set_tcp_nodelay true`), see docs/scale-out.md.
 */
export function noDelay(client: MqttClient): void {
  client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
}
