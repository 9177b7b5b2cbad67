import type { Logger } from 'pino';
import { DEVICE_EVENTS, type EventBus } from '../events.js';

/**
 * What a person watching the gateway wants to see: one line per device change and per telemetry
 * value. Telemetry lines are at info so `npm start` shows things working; set log.level=warn to quiet them.
 */
export function logActivity(bus: EventBus, log: Logger): () => void {
  const unsubscribes = DEVICE_EVENTS.map((event) =>
    bus.on(event, (payload) => {
      const { device } = payload;
      const reason = 'reason' in payload ? payload.reason : undefined;
      log.info(
        { event, device: device.id, ep: device.ep, address: device.address, reason },
        `${event} ${device.ep ?? device.id}`,
      );
    }),
  );
  unsubscribes.push(
    bus.on('telemetry', (t) =>
      log.info(
        { event: 'telemetry', device: t.device, path: t.path, ct: t.ct, value: t.value },
        `telemetry ${t.device}${t.path}`,
      ),
    ),
  );
  return () => unsubscribes.forEach((off) => off());
}
