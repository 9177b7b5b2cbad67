import type { EventBus } from '../src/events.js';

/**
 * Commands waiting for a sleepy device to wake (its next registration update, request or notification puts it
 * back online): each waits at most its own remaining deadline, and stop() releases every one at once.
 */
export class WakeWaiters {
  private readonly waiting = new Map<string, Set<(woke: boolean) => void>>();
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly bus: EventBus) {}

  start(): void {
    const wake = ({ device }: { device: { id: string; status: string } }): void => {
      if (device.status === 'online') this.release(device.id, true);
    };
    this.unsubscribe = [this.bus.on('device.online', wake), this.bus.on('device.updated', wake)];
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const id of [...this.waiting.keys()]) this.release(id, false);
  }

  /** Resolves true when the device wakes within `withinMs`, false at the deadline or on stop. */
  wait(deviceId: string, withinMs: number): Promise<boolean> {
    if (withinMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiters = this.waiting.get(deviceId) ?? new Set();
      this.waiting.set(deviceId, waiters);
      const done = (woke: boolean): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiting.get(deviceId) === waiters) this.waiting.delete(deviceId);
        resolve(woke);
      };
      const timer = setTimeout(() => done(false), withinMs);
      waiters.add(done);
    });
  }

  private release(deviceId: string, woke: boolean): void {
    for (const done of [...(this.waiting.get(deviceId) ?? [])]) done(woke);
  }
}
