import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';

export interface AwakeWindowsDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
}

/**
 * The liveness of sleepy devices, which are never pinged (OMA-TS-LightweightM2M_Core-V1_1 §6.5: a client in
 * queue mode is reachable only for a while after it sent something). Any message from one (registration,
 * update, notification) opens its awake window: `online` until the window ends, then `asleep`; `offline` only
 * when its registration expires (the RD's doing). Each change is stored first, then emitted once.
 */
export class AwakeWindows {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly deps: AwakeWindowsDeps) {}

  start(): void {
    const { bus, store } = this.deps;
    const signOfLife = ({ device }: { device: { id: string } }): void => this.heard(device.id);
    this.unsubscribe.push(
      bus.on('device.registered', signOfLife),
      bus.on('device.updated', signOfLife),
      bus.on('device.online', signOfLife),
      bus.on('telemetry', ({ device }) => this.heard(device)),
      bus.on('device.offline', ({ device }) => this.forget(device.id)),
      bus.on('device.removed', ({ device }) => this.forget(device.id)),
    );
    // After a restart nothing says whether its window is still open: asleep until it is heard from again,
    // so no queued command is sent into a window that may have closed while the gateway was down.
    for (const device of store.devices.list()) {
      if (device.status === 'online' && store.isSleepy(device.id)) this.close(device.id);
    }
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Devices whose awake window is open right now. */
  get awake(): number {
    return this.timers.size;
  }

  private heard(id: string): void {
    const { store, bus } = this.deps;
    if (!store.isSleepy(id)) return;
    const device = store.devices.get(id);
    if (!device || device.status === 'offline') return;
    if (device.status === 'asleep') {
      // A notification or request while we thought it asleep: it is awake (the RD wakes it on an update).
      const woke = store.devices.setStatus(id, 'online');
      if (woke) bus.emit('device.online', { device: store.info(woke) });
    }
    this.open(id);
  }

  private open(id: string): void {
    clearTimeout(this.timers.get(id));
    const windowMs = this.deps.store.sleepy.awakeWindowMs(this.deps.store.registrations.get(id));
    const timer = setTimeout(() => this.close(id), windowMs);
    timer.unref();
    this.timers.set(id, timer);
  }

  private close(id: string): void {
    const { store, bus, log } = this.deps;
    this.timers.delete(id);
    if (!store.isSleepy(id)) return;
    const asleep = store.devices.setStatus(id, 'asleep');
    if (!asleep) return;
    log.debug({ device: id, ep: asleep.ep }, 'device asleep');
    bus.emit('device.asleep', { device: store.info(asleep) });
  }

  private forget(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }
}
