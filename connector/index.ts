export { Connector, type ConnectorDeps, type ConnectorState } from './connector.js';
export * from './protocol/index.js';
