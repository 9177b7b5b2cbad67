export { Hub, GATEWAY_PATH, defaultTuning, type HubDeps, type HubTuning } from './hub.js';
export type { HubDevice } from './device-registry.js';
export { SIGNATURE_HEADER, signatureOf } from './webhooks.js';
export { SLOW_SUBSCRIBER_CLOSE } from './pubsub.js';
export { isAuthorized } from './auth.js';
export { BrokerHub, type BrokerHubDeps } from './broker-hub.js';
