import {
  isFinal,
  statusInfo,
  storedResult,
  type Command,
  type CommandErrorCode,
  type CommandResult,
  type Enqueue,
  type QueuedCommand,
  type QueuedStatus,
  type StoredResult,
} from '../src/command.js';
import type { CommandQueueConfig } from '../src/config.js';
import type { EventBus } from '../src/events.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';

/** RFC 7252 §5.8: GET, PUT, DELETE (and FETCH, RFC 8132 §2) are idempotent: sending one again is harmless. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'PUT', 'DELETE', 'FETCH']);
const PRUNE_EVERY_MS = 60_000;

export interface QueuedCommandsDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  config: CommandQueueConfig;
  /**
   * Sends one command in its turn of the Executer's per-device order, calling `sending` just before it leaves;
   * `unreachable` when the device was no longer online by then (nothing was sent).
   */
  deliver: (command: Command, sending: () => void) => Promise<CommandResult | 'unreachable'>;
}

const refusal = (code: CommandErrorCode, message: string) => ({ ok: false as const, error: { code, message } });

/**
 * Commands kept in the gateway's store until their device is awake (DESIGN.md "Sleepy devices"): delivered in
 * the order they were queued, one at a time, the moment the device is online (a sleepy device's awake window,
 * or any other device coming back); each one's every move is written first and then announced on the bus.
 *
 * At most once: a command is marked `sent` before it leaves, so a gateway that restarts mid-delivery never
 * sends it twice; one that got no answer goes back to the queue only when its method is idempotent.
 */
export class QueuedCommands {
  private readonly delivering = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private running = false;

  constructor(private readonly deps: QueuedCommandsDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const { bus, store } = this.deps;
    this.recover();
    const kick = ({ device }: { device: { id: string } }): void => this.kick(device.id);
    this.unsubscribe.push(
      bus.on('device.online', kick),
      bus.on('device.registered', kick),
      bus.on('device.updated', kick),
    );
    this.sweepTimer = setInterval(() => this.sweep(), this.deps.config.expiryCheckSeconds * 1000);
    this.sweepTimer.unref();
    this.sweep();
    for (const device of store.devices.list()) this.kick(device.id);
  }

  stop(): void {
    this.running = false;
    clearInterval(this.sweepTimer);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  enqueue: Enqueue = (id, command, ttlSeconds) => {
    const { store, config } = this.deps;
    const known = store.commands.get(id);
    if (known) {
      // A repeat of the same id (the hub retrying after a lost link): the first one stands, told again.
      this.announce(known);
      return { ok: true, command: known };
    }
    if (!store.devices.get(command.device)) return refusal('unknown_device', `no device ${command.device}`);
    if (store.commands.pendingCount(command.device) >= config.maxPerDevice) {
      return refusal('device_queue_full', `device ${command.device} has ${config.maxPerDevice} commands waiting`);
    }
    if (store.commands.pendingCount() >= config.maxTotal) {
      return refusal('queue_full', `the gateway holds ${config.maxTotal} queued commands`);
    }
    const ttl = Math.min(ttlSeconds ?? config.defaultTtlSeconds, config.maxTtlSeconds);
    const now = Date.now();
    store.commands.add(id, command, now + ttl * 1000, now);
    const queued = store.commands.get(id)!;
    this.announce(queued);
    this.kick(command.device);
    return { ok: true, command: queued };
  };

  /** Cancels a command still waiting; one already sent or finished stays as it is, and its status is told again. */
  cancel(id: string): QueuedCommand | undefined {
    const current = this.deps.store.commands.get(id);
    if (current === undefined) return undefined;
    if (current.status !== 'queued') {
      this.announce(current);
      return current;
    }
    return this.move(current, 'cancelled', { error: { code: 'bad_request', message: 'cancelled by the platform' } });
  }

  /** Delivers the device's waiting commands, one at a time, while it is online. */
  kick(deviceId: string): void {
    if (!this.running || this.delivering.has(deviceId) || !this.reachable(deviceId)) return;
    if (this.deps.store.commands.next(deviceId) === undefined) return;
    this.delivering.add(deviceId);
    void this.drain(deviceId).finally(() => this.delivering.delete(deviceId));
  }

  private async drain(deviceId: string): Promise<void> {
    const { store, deliver, log } = this.deps;
    while (this.running && this.reachable(deviceId)) {
      const next = store.commands.next(deviceId);
      if (next === undefined) return;
      if (next.expiresAt <= Date.now()) {
        this.expire(next);
        continue;
      }
      let sent = next;
      let result: CommandResult | 'unreachable';
      try {
        result = await deliver(next.command, () => (sent = this.move(next, 'sent')));
      } catch (err) {
        log.error({ err, id: next.id }, 'queued command delivery failed');
        result = {
          ok: false,
          error: { code: 'bad_request', message: `the gateway could not execute it: ${String(err)}` },
        };
      }
      if (result === 'unreachable') return;
      if (result.ok) {
        this.move(sent, 'done', storedResult(result));
        continue;
      }
      const unanswered = result.error.code === 'timeout' || result.error.code === 'device_offline';
      if (unanswered && IDEMPOTENT.has(sent.command.method) && sent.expiresAt > Date.now()) {
        // The device fell asleep before it answered: try again in its next awake window.
        this.move(sent, 'queued');
        return;
      }
      this.move(sent, 'failed', storedResult(result));
    }
  }

  private reachable(deviceId: string): boolean {
    return this.deps.store.devices.get(deviceId)?.status === 'online';
  }

  /** After a restart: a command caught `sent` may or may not have reached its device. */
  private recover(): void {
    for (const sent of this.deps.store.commands.withStatus('sent')) {
      if (IDEMPOTENT.has(sent.command.method)) this.move(sent, 'queued');
      else {
        const message =
          'the gateway restarted while it was delivering; not sent again (it may have reached the device)';
        this.move(sent, 'failed', { error: { code: 'device_offline', message } });
      }
    }
  }

  private sweep(): void {
    const { store, config } = this.deps;
    const now = Date.now();
    for (const command of store.commands.expired(now)) this.expire(command);
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      store.commands.prune(now - config.keepFinishedSeconds * 1000);
    }
  }

  private expire(command: QueuedCommand): void {
    const waited = Math.round((command.expiresAt - command.createdAt) / 1000);
    this.move(command, 'expired', {
      error: { code: 'timeout', message: `the device was not awake within the command's ttl of ${waited} s` },
    });
  }

  /** Writes the move, then announces it (the connector turns it into a durable upstream frame). */
  private move(command: QueuedCommand, status: QueuedStatus, result?: StoredResult): QueuedCommand {
    const { store } = this.deps;
    const moved = store.commands.set(command.id, status, result)!;
    if (isFinal(status))
      this.deps.log.info({ id: command.id, device: command.command.device, status }, 'queued command finished');
    this.announce(moved);
    return moved;
  }

  private announce(command: QueuedCommand): void {
    this.deps.bus.emit('command.status', statusInfo(command));
  }
}
