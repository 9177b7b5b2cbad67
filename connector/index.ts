import { Connector, type ConnectorDeps, type ConnectorState } from './connector.js';
import { MqttConnector } from './mqtt/mqtt-connector.js';

export { Connector, type ConnectorDeps, type ConnectorState } from './connector.js';
export type { LinkTls } from './link.js';
export { MqttConnector } from './mqtt/mqtt-connector.js';
export * from './protocol/index.js';

/** What the gateway holds of its platform link, whichever transport it is. */
export interface PlatformLink {
  start(): Promise<void>;
  stop(): Promise<void>;
  state(): ConnectorState;
}

/** The link platform.url asks for: MQTT for `mqtt://` and `mqtts://`, the WebSocket link otherwise. */
export function createConnector(deps: ConnectorDeps): PlatformLink {
  return /^mqtts?:\/\//.test(deps.config.url ?? '') ? new MqttConnector(deps) : new Connector(deps);
}
