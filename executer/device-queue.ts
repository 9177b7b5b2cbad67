/**
 * One FIFO per device: a task starts only when every earlier task for the same device has settled
 * (constrained devices handle one request at a time); different devices run in parallel.
 */
export class DeviceQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(device: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(device) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(device, tail);
    void tail.then(() => {
      if (this.tails.get(device) === tail) this.tails.delete(device);
    });
    return result;
  }

  /** Devices with a task running or waiting. */
  get busyDevices(): number {
    return this.tails.size;
  }

  /** Resolves once every task queued so far has settled. */
  async drained(): Promise<void> {
    await Promise.all(this.tails.values());
  }
}
