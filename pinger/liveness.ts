import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';

export type Transition = 'online' | 'offline' | undefined;

/**
 * Consecutive missed pings per device and the status changes they cause. A change is written to the
 * store first and then emitted once; `setStatus` returns undefined when nothing changed, so a device
 * that the RD already brought online is not announced twice.
 */
export class Liveness {
  private readonly misses = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly missesBeforeOffline: number,
  ) {}

  /** An answer, or any sign of life (a registration or its update, RFC 9176 §5.3.1). */
  alive(id: string): Transition {
    this.misses.delete(id);
    return this.change(id, 'online');
  }

  missed(id: string): Transition {
    const count = (this.misses.get(id) ?? 0) + 1;
    this.misses.set(id, count);
    return count >= this.missesBeforeOffline ? this.change(id, 'offline') : undefined;
  }

  forget(id: string): void {
    this.misses.delete(id);
  }

  missCount(id: string): number {
    return this.misses.get(id) ?? 0;
  }

  private change(id: string, status: 'online' | 'offline'): Transition {
    const device = this.store.devices.setStatus(id, status);
    if (!device) return undefined;
    this.log.info(
      { device: id, ep: device.ep, address: `${device.host}:${device.port}`, misses: this.missCount(id) },
      `device ${status}`,
    );
    this.bus.emit(status === 'online' ? 'device.online' : 'device.offline', { device: this.store.info(device) });
    return status;
  }
}
