import { DEVICE_EVENTS, type EventBus } from '../src/events.js';
import { commandStatusBody, valueToWire } from './payload.js';
import type { Upstream } from './upstream.js';

/**
 * Every device event and telemetry value goes into the outbox first, whatever the link's state and whichever
 * transport carries it (WebSocket or MQTT). With `refreshFrames`, a lifetime refresh goes as a coalesced
 * `refresh` frame instead of a `device.updated` event (docs/protocol.md); the MQTT dialects have no such message.
 * Returns the unsubscribers.
 */
export function feedUpstream(bus: EventBus, upstream: Upstream, refreshFrames: boolean): (() => void)[] {
  const off: (() => void)[] = [];
  for (const name of DEVICE_EVENTS) {
    off.push(
      bus.on(name, (payload) => {
        if (refreshFrames && 'refresh' in payload && payload.refresh) return upstream.refresh(payload.device);
        const reason = 'reason' in payload ? { reason: payload.reason } : {};
        upstream.event(name, { device: payload.device, ...reason, ts: Date.now() });
      }),
    );
  }
  off.push(
    bus.on('telemetry', ({ device, path, ct, value, encoding, ts }) =>
      upstream.telemetry({ device, path, ct, ...valueToWire(value, encoding), ts }),
    ),
    bus.on('command.status', (info) => upstream.commandStatus(commandStatusBody(info))),
  );
  return off;
}
