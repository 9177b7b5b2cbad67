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
  if (frame.type === 'telemetry') {
    const { type: _type, seq: _seq, ...telemetry } = frame;
    return { name: `telemetry/${frame.device}`, data: { gateway, ...telemetry } };
  }
  const { type: _type, seq: _seq, name, ...event } = frame;
  return { name, data: { gateway, ...event } };
}
