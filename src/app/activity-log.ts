import type { Logger } from 'pino';
import { DEVICE_EVENTS, type EventBus, type Telemetry } from '../events.js';

/** Lines of one kind a second logged at info; beyond it they go to debug and into a summary line. */
const LINES_PER_SECOND = 20;
const SUMMARY_EVERY_MS = 10_000;

/**
 * What a person watching the gateway wants to see: one line per device change and per telemetry value, at info,
 * so `npm start` shows things working; set log.level=warn to quiet them. A fleet registers thousands of devices and
 * sends thousands of values a second: past LINES_PER_SECOND of a kind the lines are logged at debug and counted in
 * one info line every 10 s, so the log (and its JSON serialisation, a tenth of the gateway's CPU at 10,000 values/s
 * and a twentieth of each registration in a registration storm) does not grow with the fleet. A lifetime refresh,
 * which every device sends about twice per lifetime, is routine: at debug.
 */
export function logActivity(bus: EventBus, log: Logger): () => void {
  const devices = new RateLimitedLines(log, 'device events', 'device');
  const telemetry = new RateLimitedLines(log, 'telemetry', 'telemetry');
  const unsubscribes = DEVICE_EVENTS.map((event) =>
    bus.on(event, (payload) => {
      const { device } = payload;
      const reason = 'reason' in payload ? payload.reason : undefined;
      const fields = { event, device: device.id, ep: device.ep, address: device.address, reason };
      const message = `${event} ${device.ep ?? device.id}`;
      if ('refresh' in payload && payload.refresh) log.debug(fields, message);
      else devices.line(fields, message);
    }),
  );
  unsubscribes.push(
    bus.on('telemetry', (t: Telemetry) =>
      telemetry.line(
        { event: 'telemetry', device: t.device, path: t.path, ct: t.ct, value: t.value },
        `telemetry ${t.device}${t.path}`,
      ),
    ),
    () => devices.stop(),
    () => telemetry.stop(),
  );
  return () => unsubscribes.forEach((off) => off());
}

/** One kind of line: the first LINES_PER_SECOND of each second at info, the rest at debug and in a summary. */
class RateLimitedLines {
  private windowStart = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private unlogged = 0;
  private readonly summary: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    event: string,
  ) {
    this.summary = setInterval(() => {
      if (this.unlogged === 0) return;
      log.info(
        { event, unlogged: this.unlogged, perSecondAtInfo: LINES_PER_SECOND },
        `${what}: ${this.unlogged} more in the last ${SUMMARY_EVERY_MS / 1000} s (each at debug)`,
      );
      this.unlogged = 0;
    }, SUMMARY_EVERY_MS);
    this.summary.unref();
  }

  line(fields: Record<string, unknown>, message: string): void {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (++this.inWindow <= LINES_PER_SECOND) return this.log.info(fields, message);
    this.unlogged++;
    this.log.debug(fields, message);
  }

  stop(): void {
    clearInterval(this.summary);
  }
}
