import type { PingerConfig } from '../src/config.js';
import type { CoapClientApi } from '../src/coap/types.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';
import type { Liveness, Transition } from './liveness.js';

/** The first recheck of a device that went offline, doubled after each miss up to `offlineRecheckMaxSeconds`. */
const FIRST_RECHECK_MS = 1_000;

export interface ChecksDeps {
  store: Store;
  log: Logger;
  config: PingerConfig;
  client: Pick<CoapClientApi, 'ping'>;
  liveness: Liveness;
  /** Whether the ping's answer still concerns the device (same address, live registration); see Pinger.record. */
  record(deviceId: string, host: string, port: number, answered: boolean): Transition | 'stale';
}

/**
 * Liveness checks outside the rounds. `check` confirms a device now, with up to `missesBeforeOffline` pings
 * back to back: what a quiet notification stream or a command without an answer asks for, so a dead device
 * goes offline in seconds, not after the next rounds. A device that is offline is rechecked on a short,
 * capped backoff, so one that returns is online again (and re-observed) within seconds of its first answer.
 */
export class Checks {
  private readonly running = new Map<string, Promise<boolean>>();
  private readonly rechecks = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
  private inFlight = 0;
  private stopped = false;

  constructor(private readonly deps: ChecksDeps) {}

  /** Confirms the device's liveness now; concurrent calls for one device share one check. */
  check(deviceId: string): Promise<boolean> {
    const running = this.running.get(deviceId);
    if (running) return running;
    const check = this.confirm(deviceId).finally(() => this.running.delete(deviceId));
    this.running.set(deviceId, check);
    return check;
  }

  /** Checks running or rechecks scheduled: tests count that nothing is left behind. */
  get pending(): number {
    return this.running.size + this.rechecks.size;
  }

  /** Schedules the next recheck of an offline device (the first after FIRST_RECHECK_MS). */
  offline(deviceId: string): void {
    if (this.stopped || this.rechecks.has(deviceId)) return;
    this.schedule(deviceId, FIRST_RECHECK_MS);
  }

  /** The device answered, registered or was removed: no recheck. */
  forget(deviceId: string): void {
    const recheck = this.rechecks.get(deviceId);
    if (recheck) clearTimeout(recheck.timer);
    this.rechecks.delete(deviceId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.rechecks.values()) clearTimeout(timer);
    this.rechecks.clear();
    await Promise.all(this.running.values());
  }

  private schedule(deviceId: string, delayMs: number): void {
    const timer = setTimeout(() => void this.recheck(deviceId, delayMs), delayMs);
    this.rechecks.set(deviceId, { timer, delayMs });
  }

  private async recheck(deviceId: string, delayMs: number): Promise<void> {
    const capMs = this.deps.config.offlineRecheckMaxSeconds * 1000;
    const next = Math.min(delayMs * 2, capMs);
    // Rechecks take at most a quarter of the pinger's concurrency: a fleet gone dark must not starve the rounds.
    if (this.inFlight >= Math.max(1, Math.floor(this.deps.config.concurrency / 4))) {
      return this.schedule(deviceId, next);
    }
    this.rechecks.delete(deviceId);
    const device = this.deps.store.devices.get(deviceId);
    if (this.stopped || !device || device.status === 'online') return;
    if (this.deps.store.registrations.live(deviceId) === undefined) return;
    this.inFlight++;
    const answered = await this.deps.client.ping(device.host, device.port, this.deps.config.timeoutMs);
    this.inFlight--;
    const outcome = this.deps.record(deviceId, device.host, device.port, answered);
    if (this.stopped || outcome === 'stale' || answered) return;
    if (this.deps.store.devices.get(deviceId)?.status === 'offline') this.schedule(deviceId, next);
  }

  private async confirm(deviceId: string): Promise<boolean> {
    const { store, client, config, liveness } = this.deps;
    for (;;) {
      const device = store.devices.get(deviceId);
      if (this.stopped || !device || store.registrations.live(deviceId) === undefined) return false;
      const answered = await client.ping(device.host, device.port, config.timeoutMs);
      const outcome = this.deps.record(deviceId, device.host, device.port, answered);
      if (answered) return true;
      if (outcome === 'stale') return false;
      this.deps.log.debug({ device: deviceId, misses: liveness.missCount(deviceId) }, 'liveness check missed');
      // Offline now (or already): the offline rechecks take over.
      if (outcome === 'offline' || store.devices.get(deviceId)?.status === 'offline') return false;
    }
  }
}
