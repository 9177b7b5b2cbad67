import { setMaxListeners } from 'node:events';
import type { PingerConfig } from '../src/config.js';
import type { CoapClientApi } from '../src/coap/types.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Device, Store } from '../src/store/index.js';
import { Liveness } from './liveness.js';

export interface PingerDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: PingerConfig;
  client: Pick<CoapClientApi, 'ping'>;
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
 * Liveness of every known device by CoAP ping (RFC 7252 §4.3: an empty CON answered by Reset).
 * Each round pings every device once, each at a random offset within `jitter × interval` so that
 * thousands of devices never mean thousands of simultaneous datagrams, and at most `concurrency`
 * pings are outstanding. Registered, discovered and offline devices are pinged alike: an offline
 * device comes back on its next answer.
 */
export class Pinger {
  private readonly liveness: Liveness;
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<SweepStats> | undefined;
  private running = false;
  private last: SweepStats | undefined;
  /** Cuts short the spread waits of a round in progress when the Pinger stops. */
  private stopping = new AbortController();

  constructor(private readonly deps: PingerDeps) {
    this.liveness = new Liveness(deps.store, deps.bus, deps.log, deps.config.missesBeforeOffline);
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
      bus.on('device.removed', ({ device }) => this.liveness.forget(device.id)),
    );
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
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
    // DESIGN.md "Addresses": a removed or expired registration is not pinged; what answers at its old
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
        this.record(device, answered, stats);
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, planned.length) }, worker));
    stats.durationMs = performance.now() - startedAt;
    this.last = stats;
    return stats;
  }

  private record(pinged: Device, answered: boolean, stats: SweepStats): void {
    const current = this.deps.store.devices.get(pinged.id);
    // Removed, or re-registered from elsewhere while the ping was out: this answer says nothing about it.
    if (!current || current.host !== pinged.host || current.port !== pinged.port) return;
    if (this.deps.store.registrations.live(current.id) === undefined) return;
    if (answered) stats.answered++;
    else stats.missed++;
    const transition = answered ? this.liveness.alive(current.id) : this.liveness.missed(current.id);
    if (transition === 'online') stats.cameOnline++;
    if (transition === 'offline') stats.wentOffline++;
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
