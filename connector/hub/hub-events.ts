import type { EventFrame, TelemetryFrame } from '../protocol/index.js';

/** A hub event: its pub/sub name (docs/api.md "Events") and data. */
export interface HubEvent {
  name: string;
  data: object;
}

/**
 * The event an upstream frame is on the hub (docs/api.md "Events"), however it arrived (a gateway's socket or
 * the broker): `telemetry/<device>` or the device event's name, with the gateway's id and without the seq.
 */
export function hubEventOf(gateway: string, frame: EventFrame | TelemetryFrame): HubEvent {
  // Built field by field: a rest copy of the frame took a slow path of V8's, once for every frame the hub takes.
  if (frame.type === 'telemetry') {
    const { device, path, ct, value, encoding, ts } = frame;
    const data =
      encoding === undefined
        ? { gateway, device, path, ct, value, ts }
        : { gateway, device, path, ct, value, encoding, ts };
    return { name: `telemetry/${device}`, data };
  }
  const { device, reason, ts } = frame;
  return { name: frame.name, data: reason === undefined ? { gateway, device, ts } : { gateway, device, reason, ts } };
}
