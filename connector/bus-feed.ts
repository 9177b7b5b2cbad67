import { DEVICE_EVENTS, type EventBus } from '../src/events.js';
import { valueToWire } from './payload.js';
import type { Upstream } from './upstream.js';

/**
 * Every device event and telemetry value goes into the outbox first, whatever the link's state and whichever
 * transport carries it (WebSocket or MQTT). Returns the unsubscribers.
 */
export function feedUpstream(bus: EventBus, upstream: Upstream): (() => void)[] {
  const off: (() => void)[] = [];
  for (const name of DEVICE_EVENTS) {
    off.push(
      bus.on(name, (payload) => {
        const reason = 'reason' in payload ? { reason: payload.reason } : {};
        upstream.event(name, { device: payload.device, ...reason, ts: Date.now() });
      }),
    );
  }
  off.push(
    bus.on('telemetry', ({ device, path, ct, value, encoding, ts }) =>
      upstream.telemetry({ device, path, ct, ...valueToWire(value, encoding), ts }),
    ),
  );
  return off;
}
