import type { ObserverConfig } from '../src/config.js';
import type { CoapClientApi, CoapReply } from '../src/coap/types.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Registry } from '../src/metrics/index.js';
import type { Store } from '../src/store/index.js';
import { Limiter } from './limiter.js';
import { ObserverMetrics } from './metrics.js';
import { ObservationTask } from './observation-task.js';
import { PollTask } from './poll-task.js';
import { sameTarget, selectResources, targetKey, type ResourceTarget } from './selection.js';
import type { ResourceTask, TaskContext } from './task.js';
import { toTelemetry } from './telemetry.js';
import { Watchdogs } from './watchdogs.js';

export interface ObserverDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: ObserverConfig;
  client: Pick<CoapClientApi, 'request' | 'observe'>;
  /** Checks a device's liveness at once (the Pinger's `check`, wired by the composition root). */
  checkLiveness?: (deviceId: string) => void;
  /** Where the Observer's metrics are registered, if anywhere. */
  metrics?: Registry;
}

/** How long stop() waits for deregistrations: a live device on the LAN answers within milliseconds. */
const STOP_GRACE_MS = 1_000;

interface DeviceTasks {
  /** createdAt of the registration the tasks were made for: a new one means the device re-registered. */
  registeredAt: number;
  /** A device has a handful of tasks: an array, not a Map (a Map's table costs some 200 bytes per device). */
  tasks: ResourceTask[];
}

/**
 * Produces telemetry for every selected resource of every registered device (DESIGN "Telemetry").
 *
 * Follows the bus: a new registration or a device coming back online re-establishes all of its
 * observations (the device may have restarted and forgotten its observers, RFC 7641 §4.1); an
 * update re-establishes only what changed (path, address, mode); removal deregisters. A device
 * going offline keeps its observations open (a notification that still arrives is still a value)
 * but its timers stop, so no polls or re-observations are spent on it until it is back online.
 */
export class Observer {
  private readonly devices = new Map<string, DeviceTasks>();
  /** Stops in flight (deregistrations): stop() waits for them briefly, a successor task starts after its own. */
  private readonly stopping = new Set<Promise<void>>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly ctx: TaskContext;
  private readonly metrics: ObserverMetrics | undefined;

  constructor(private readonly deps: ObserverDeps) {
    const { config, client, log } = deps;
    this.ctx = {
      client,
      log,
      limiter: new Limiter(config.concurrency),
      watchdogs: new Watchdogs(),
      requestTimeoutMs: config.requestTimeoutMs,
      defaultMaxAgeSeconds: config.defaultMaxAgeSeconds,
      publish: (target, reply) => this.publish(target, reply),
      checkLiveness: (deviceId) => deps.checkLiveness?.(deviceId),
    };
    this.metrics = deps.metrics && new ObserverMetrics(deps.metrics, () => this.taskCount());
  }

  async start(): Promise<void> {
    const { bus, store, config, log } = this.deps;
    if (!config.enabled) {
      log.info('observer disabled by configuration');
      return;
    }
    this.unsubscribe.push(
      bus.on('device.registered', ({ device }) => this.sync(device.id, true)),
      // A lifetime refresh changes no link and no address: the tasks stand as they are.
      bus.on('device.updated', ({ device, refresh }) => refresh || this.sync(device.id, false)),
      bus.on('device.online', ({ device }) => this.sync(device.id, true)),
      bus.on('device.offline', ({ device }) => this.sync(device.id, false)),
      bus.on('device.asleep', ({ device }) => this.sync(device.id, false)),
      bus.on('device.removed', ({ device }) => this.drop(device.id)),
    );
    for (const reg of store.registrations.all()) this.sync(reg.deviceId, false);
    log.info({ devices: this.devices.size, tasks: this.taskCount() }, 'observer started');
  }

  /**
   * Sends every deregistration (RFC 7641 §3.6) but waits for them only briefly: a device that went silent
   * would otherwise hold shutdown for the whole deregistration deadline. The client's close() ends what is left.
   */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const id of [...this.devices.keys()]) this.drop(id);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)));
    await Promise.race([Promise.all(this.stopping), grace]);
    clearTimeout(timer);
  }

  /** Tasks running now, by mode: for logs, the CLI and tests. */
  taskCount(): { observe: number; poll: number } {
    const count = { observe: 0, poll: 0 };
    for (const { tasks } of this.devices.values()) for (const task of tasks) count[task.target.mode]++;
    return count;
  }

  /** Brings a device's tasks in line with its registration; `restart` replaces even unchanged ones. */
  private sync(deviceId: string, restart: boolean): void {
    const { store, config } = this.deps;
    const reg = store.registrations.get(deviceId);
    const device = store.devices.get(deviceId);
    if (!reg || !device) return this.drop(deviceId);
    const entry = this.devices.get(deviceId);
    // Asleep like offline: no polls or re-observations spent on a radio that is off. When the device wakes
    // (device.online), the suspended observations are established again in its awake window.
    if (device.status === 'offline' || device.status === 'asleep') {
      for (const task of entry?.tasks ?? []) task.suspend();
      return;
    }
    const replaceAll = restart || (entry !== undefined && entry.registeredAt !== reg.createdAt);
    const wanted = new Map<string, ResourceTarget>(
      selectResources(reg, config, store.isSleepy(deviceId)).map((t) => [targetKey(t), t]),
    );
    const tasks: ResourceTask[] = [];
    const predecessors = new Map<string, Promise<void>>();
    for (const task of entry?.tasks ?? []) {
      const key = targetKey(task.target);
      const target = wanted.get(key);
      if (target && !replaceAll && !task.suspended && sameTarget(task.target, target)) {
        wanted.delete(key);
        tasks.push(task);
        continue;
      }
      predecessors.set(key, this.stopTask(task));
    }
    for (const [key, target] of wanted) {
      const task = target.mode === 'observe' ? new ObservationTask(this.ctx, target) : new PollTask(this.ctx, target);
      tasks.push(task);
      task.start(predecessors.get(key));
    }
    // A copy is exactly as long as the list (push() leaves room for 17 tasks: 150 bytes a device).
    this.devices.set(deviceId, { registeredAt: reg.createdAt, tasks: tasks.slice() });
  }

  private drop(deviceId: string): void {
    const entry = this.devices.get(deviceId);
    if (!entry) return;
    this.devices.delete(deviceId);
    for (const task of entry.tasks) void this.stopTask(task);
  }

  private stopTask(task: ResourceTask): Promise<void> {
    const done = task.stop().finally(() => this.stopping.delete(done));
    this.stopping.add(done);
    return done;
  }

  private publish(target: ResourceTarget, reply: CoapReply): void {
    if (!reply.code.startsWith('2.')) return;
    this.metrics?.received(reply.observe !== undefined);
    this.deps.bus.emit('telemetry', toTelemetry(target.deviceId, target.path, reply));
  }
}
