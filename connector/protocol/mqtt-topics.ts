/**
 * The two topic layouts the MQTT transport speaks. Both ends (the gateway's connector and the broker-mode hub)
 * take their topic names from here, as both ends of the WebSocket link take their frames from protocol.ts.
 */

/**
 * ThingsBoard's Gateway MQTT API, verbatim (thingsboard.io/docs/reference/gateway-mqtt-api/, "Topic reference"):
 * "Connect device | Gateway → Edge | v1/gateway/connect", "Disconnect device | v1/gateway/disconnect",
 * "Publish client-side attributes | v1/gateway/attributes", "Subscribe to attribute updates | v1/gateway/attributes",
 * "Publish telemetry | v1/gateway/telemetry", "Subscribe to RPC | v1/gateway/rpc", "Publish RPC response | v1/gateway/rpc".
 */
export const thingsboardTopics = {
  connect: 'v1/gateway/connect',
  disconnect: 'v1/gateway/disconnect',
  attributes: 'v1/gateway/attributes',
  telemetry: 'v1/gateway/telemetry',
  rpc: 'v1/gateway/rpc',
} as const;

/** The first level of every "coregate over MQTT" topic: `coregate/<gateway id>/...`. */
export const COREGATE_ROOT = 'coregate';

/**
 * "coregate over MQTT" (docs/protocol.md "MQTT"): the WebSocket link's own frames under a per-gateway prefix, so
 * one broker carries any number of gateways and any number of hubs read them.
 */
export function coregateTopics(gateway: string) {
  const base = `${COREGATE_ROOT}/${gateway}`;
  return {
    /** QoS 1: a JSON array of `event` and `telemetry` frames, in seq order. */
    up: `${base}/up`,
    /** QoS 1, retained: `{"online": boolean, "ts"}`; the broker publishes `online: false` as the gateway's will. */
    status: `${base}/status`,
    /** QoS 1, retained: one device's info (the `device` of an event frame); empty when the device is gone. */
    device: (id: string) => `${base}/devices/${id}`,
    /** QoS 1, hub → gateway: one `command` frame. */
    command: `${base}/command`,
    /** QoS 1, gateway → hub: the `result` (or `error`) frame answering a command. */
    result: `${base}/result`,
  };
}

/** What a hub subscribes to: every gateway's topics of one kind. */
export const coregateWildcards = {
  up: `${COREGATE_ROOT}/+/up`,
  status: `${COREGATE_ROOT}/+/status`,
  devices: `${COREGATE_ROOT}/+/devices/+`,
  result: `${COREGATE_ROOT}/+/result`,
} as const;

export type CoregateTopicKind = 'up' | 'status' | 'device' | 'command' | 'result';

/** `coregate/<gateway>/<kind>[/<device>]` → its parts; undefined for any other topic. */
export function parseCoregateTopic(
  topic: string,
): { gateway: string; kind: CoregateTopicKind; device?: string } | undefined {
  const parts = topic.split('/');
  if (parts[0] !== COREGATE_ROOT || parts.length < 3 || parts[1] === '') return undefined;
  const gateway = parts[1]!;
  if (parts.length === 4 && parts[2] === 'devices' && parts[3] !== '') {
    return { gateway, kind: 'device', device: parts[3]! };
  }
  if (parts.length !== 3) return undefined;
  const kind = parts[2];
  if (kind === 'up' || kind === 'status' || kind === 'command' || kind === 'result') return { gateway, kind };
  return undefined;
}

/** A gateway id is one topic level: MQTT 3.1.1 §4.7.1 reserves `/`, `+` and `#`. */
export function isTopicLevel(value: string): boolean {
  return value !== '' && !/[/+#]/.test(value);
}
