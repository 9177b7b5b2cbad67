import { setMaxListeners } from 'node:events';
import type { PingerConfig } from '../src/config.js';
import type { CoapClientApi } from '../src/coap/types.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Registry } from '../src/metrics/index.js';
import type { Store } from '../src/store/index.js';
import { Checks } from './checks.js';
import { Liveness, type Transition } from './liveness.js';
import { PingerMetrics } from './metrics.js';

export interface PingerDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: PingerConfig;
  client: Pick<CoapClientApi, 'ping'>;
  /** Where the Pinger's metrics are registered, if anywhere. */
  metrics?: Registry;
}

export interface SweepStats {
  devices: number;
  answered: number;
  missed: number;
  wentOffline: number;
  cameOnline: number;
  /** Most pings that were in flight at once (never above `config.concurrency`). */
  maxInFlight: number;
  durationMs: number;
}

/**
 * Liveness of every registered device by CoAP ping (RFC 7252 §4.3: an empty CON answered by Reset).
 * Each round pings every device once, each at a random offset within `jitter × interval` so that
 * thousands of devices never mean thousands of simultaneous datagrams, and at most `concurrency`
 * pings are outstanding. Registered, discovered and offline devices are pinged alike: an offline
 * device comes back on its next answer. Between rounds, `check` confirms one device at once (asked by
 * the Observer and the Executer when a device stops answering), and offline devices are rechecked on a
 * short backoff (`Checks`).
 */
export class Pinger {
  private readonly liveness: Liveness;
  private readonly checks: Checks;
  private readonly metrics: PingerMetrics | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<SweepStats> | undefined;
  private running = false;
  private last: SweepStats | undefined;
  /** Cuts short the spread waits of a round in progress when the Pinger stops. */
  private stopping = new AbortController();

  constructor(private readonly deps: PingerDeps) {
    this.liveness = new Liveness(deps.store, deps.bus, deps.log, deps.config.missesBeforeOffline);
    this.checks = new Checks({
      ...deps,
      liveness: this.liveness,
      record: (id, host, port, answered) => this.record(id, host, port, answered),
    });
    this.metrics = deps.metrics && new PingerMetrics(deps.metrics);
  }

  /**
   * Confirms a device's liveness now (up to `missesBeforeOffline` pings back to back): true when it answered.
   * Only while the Pinger runs; a device without a live registration is never pinged.
   */
  check(deviceId: string): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    return this.checks.check(deviceId);
  }

  /** Checks in progress and offline rechecks scheduled. */
  get pendingChecks(): number {
    return this.checks.pending;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    // One listener per concurrent worker: more than EventTarget's default warning threshold of 10.
    setMaxListeners(0, this.stopping.signal);
    const { bus } = this.deps;
    // Any registration or update is a sign of life (RFC 9176 §5.3.1): back online, misses forgotten.
    this.unsubscribe.push(
      bus.on('device.registered', ({ device }) => void this.liveness.alive(device.id)),
      bus.on('device.updated', ({ device }) => void this.liveness.alive(device.id)),
      bus.on('device.removed', ({ device }) => {
        this.liveness.forget(device.id);
        this.checks.forget(device.id);
      }),
      bus.on('device.online', ({ device }) => this.checks.forget(device.id)),
      bus.on('device.offline', ({ device }) => {
        if (this.deps.store.registrations.live(device.id) !== undefined) this.checks.offline(device.id);
      }),
    );
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
    await this.checks.stop();
    await this.round?.catch(() => undefined);
  }

  /** Figures of the last round that finished, scheduled or not. */
  get lastRound(): SweepStats | undefined {
    return this.last;
  }

  /** One round now, every device at once within the concurrency bound (no spreading). */
  sweep(): Promise<SweepStats> {
    return this.runRound(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      const intervalMs = this.deps.config.intervalSeconds * 1000;
      const startedAt = Date.now();
      this.round = this.runRound(intervalMs * this.deps.config.jitter);
      void this.round.then(
        (stats) => {
          this.deps.log.debug({ ...stats }, 'ping round');
          this.schedule(Math.max(0, startedAt + intervalMs - Date.now()));
        },
        (err: unknown) => {
          this.deps.log.error({ err }, 'ping round failed');
          this.schedule(intervalMs);
        },
      );
    }, delayMs);
  }

  private async runRound(spreadMs: number): Promise<SweepStats> {
    const { store, config, client } = this.deps;
    const startedAt = performance.now();
    const now = Date.now();
    // docs/design.md "Addresses": a removed or expired registration is not pinged; what answers at its old
    // address (a new device, another program) says nothing about the device that was registered there.
    const planned = store.devices
      .list()
      .filter((device) => store.registrations.live(device.id, now) !== undefined)
      .map((device) => ({ device, at: startedAt + Math.random() * spreadMs }))
      .sort((a, b) => a.at - b.at);
    const stats: SweepStats = {
      devices: planned.length,
      answered: 0,
      missed: 0,
      wentOffline: 0,
      cameOnline: 0,
      maxInFlight: 0,
      durationMs: 0,
    };
    let next = 0;
    let inFlight = 0;
    const worker = async (): Promise<void> => {
      while (next < planned.length && (this.running || spreadMs === 0)) {
        const { device, at } = planned[next++]!;
        const wait = at - performance.now();
        if (wait > 1) await sleep(wait, this.stopping.signal);
        if (!this.running && spreadMs > 0) break;
        stats.maxInFlight = Math.max(stats.maxInFlight, ++inFlight);
        const answered = await client.ping(device.host, device.port, config.timeoutMs);
        inFlight--;
        const outcome = this.record(device.id, device.host, device.port, answered);
        if (outcome === 'stale') continue;
        if (answered) stats.answered++;
        else stats.missed++;
        if (outcome === 'online') stats.cameOnline++;
        if (outcome === 'offline') stats.wentOffline++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, planned.length) }, worker));
    stats.durationMs = performance.now() - startedAt;
    this.last = stats;
    this.metrics?.round(stats.durationMs);
    return stats;
  }

  /**
   * Applies one ping's outcome. 'stale': the device was removed, its registration ran out, or it
   * re-registered from elsewhere while the ping was out, so the answer says nothing about it.
   */
  private record(id: string, host: string, port: number, answered: boolean): Transition | 'stale' {
    const current = this.deps.store.devices.get(id);
    if (!current || current.host !== host || current.port !== port) return 'stale';
    if (this.deps.store.registrations.live(id) === undefined) return 'stale';
    this.metrics?.ping(answered);
    return answered ? this.liveness.alive(id) : this.liveness.missed(id);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
