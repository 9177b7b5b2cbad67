import type { Logger } from 'pino';
import { DEVICE_EVENTS, type EventBus, type Telemetry } from '../events.js';

/** Telemetry lines a second logged at info; beyond it they go to debug and into a summary line. */
const TELEMETRY_LINES_PER_SECOND = 20;
const SUMMARY_EVERY_MS = 10_000;

/**
 * What a person watching the gateway wants to see: one line per device change and per telemetry
 * value. Telemetry lines are at info so `npm start` shows things working; set log.level=warn to quiet them.
 * A fleet sends thousands of values a second: past TELEMETRY_LINES_PER_SECOND the lines are logged at debug
 * and counted in one info line every 10 s, so the log (and its JSON serialisation, a tenth of the gateway's
 * CPU at 10,000 values/s) does not grow with the fleet.
 */
export function logActivity(bus: EventBus, log: Logger): () => void {
  const unsubscribes = DEVICE_EVENTS.map((event) =>
    bus.on(event, (payload) => {
      const { device } = payload;
      const reason = 'reason' in payload ? payload.reason : undefined;
      // Every device refreshes its registration about twice a lifetime: routine, so at debug.
      const level = 'refresh' in payload && payload.refresh ? 'debug' : 'info';
      log[level](
        { event, device: device.id, ep: device.ep, address: device.address, reason },
        `${event} ${device.ep ?? device.id}`,
      );
    }),
  );
  const telemetry = telemetryLines(log);
  unsubscribes.push(bus.on('telemetry', telemetry.line), telemetry.stop);
  return () => unsubscribes.forEach((off) => off());
}

function telemetryLines(log: Logger): { line: (t: Telemetry) => void; stop: () => void } {
  let windowStart = Number.NEGATIVE_INFINITY;
  let inWindow = 0;
  let unlogged = 0;
  const summary = setInterval(() => {
    if (unlogged === 0) return;
    log.info(
      { event: 'telemetry', unlogged, perSecondAtInfo: TELEMETRY_LINES_PER_SECOND },
      `telemetry: ${unlogged} more values in the last ${SUMMARY_EVERY_MS / 1000} s (each at debug)`,
    );
    unlogged = 0;
  }, SUMMARY_EVERY_MS);
  summary.unref();
  const line = (t: Telemetry): void => {
    const now = performance.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
    }
    const fields = { event: 'telemetry', device: t.device, path: t.path, ct: t.ct, value: t.value };
    if (++inWindow <= TELEMETRY_LINES_PER_SECOND) return log.info(fields, `telemetry ${t.device}${t.path}`);
    unlogged++;
    log.debug(fields, `telemetry ${t.device}${t.path}`);
  };
  return { line, stop: () => clearInterval(summary) };
}
