/**
 * The wire contract of the platform link (docs/protocol.md).
 * Every frame is a JSON text frame `{"type": ...}`; this module owns every frame type and its validation
 * (ws's "validate at the edge, once"): the gateway and the hub parse with it and never re-check shapes.
 */
export * from './constants.js';
export * from './hmac.js';
export {
  deviceInfoSchema,
  gatewayFrameSchemas,
  gatewayFrameTypes,
  hubFrameSchemas,
  hubFrameTypes,
  type AckFrame,
  type CancelFrame,
  type CommandStatusFrame,
  type ChallengeFrame,
  type CommandFrame,
  type DeviceInfoFrame,
  type ErrorFrame,
  type EventFrame,
  type GatewayFrame,
  type GatewayFrameOf,
  type GatewayFrameType,
  type HelloFrame,
  type HubFrame,
  type HubFrameOf,
  type HubFrameType,
  type ResultErrorFrame,
  type ResultFrame,
  type ResultOkFrame,
  type RefreshFrame,
  type SnapshotFrame,
  type TelemetryFrame,
  type WelcomeFrame,
} from './frames.js';
export * from './parse.js';
export * from './mqtt-topics.js';
export * from './mqtt-messages.js';
