export { Connector, type ConnectorDeps, type ConnectorState } from './connector.js';
export type { LinkTls } from './link.js';
export * from './protocol/index.js';
