import type { Cancel, Command, CommandErrorCode, CommandResult, Enqueue } from '../src/command.js';
import type { ExecuterConfig } from '../src/config.js';
import { EventBus } from '../src/events.js';
import { deadlineTimer } from '../src/coap/timing.js';
import { CoapResetError, CoapTimeoutError, type CoapClientApi } from '../src/coap/types.js';
import type { Logger } from '../src/log.js';
import type { Store } from '../src/store/index.js';
import { DeviceQueue } from './device-queue.js';
import { QueuedCommands } from './queued-commands.js';
import { commandProblem } from './validate.js';
import { WakeWaiters } from './wake-waiters.js';

export interface ExecuterDeps {
  store: Store;
  log: Logger;
  config: ExecuterConfig;
  client: Pick<CoapClientApi, 'request'>;
  /** Device events: wake-ups release commands waiting for a sleepy device. Without it nothing ever wakes. */
  bus?: EventBus;
  /** Checks a device's liveness at once (the Pinger's `check`, wired by the composition root). */
  checkLiveness?: (deviceId: string) => void;
}

const failure = (code: CommandErrorCode, message: string): CommandResult => ({ ok: false, error: { code, message } });

/**
 * Turns platform commands into CoAP requests to the device's current address (docs/design.md, data flow "Command").
 * Every command ends in exactly one result, never an exception; its deadline covers the wait behind
 * earlier commands to the same device, the retransmissions and any block-wise transfer.
 */
export class Executer {
  private readonly queue = new DeviceQueue();
  /** Commands in progress; stop() settles them at once. */
  private readonly pending = new Set<(result: CommandResult) => void>();
  private readonly wakes: WakeWaiters;
  private readonly queued: QueuedCommands;
  private running = false;

  constructor(private readonly deps: ExecuterDeps) {
    const bus = deps.bus ?? new EventBus();
    this.wakes = new WakeWaiters(bus);
    this.queued = new QueuedCommands({
      store: deps.store,
      bus,
      log: deps.log,
      config: deps.config.queue,
      deliver: (command, sending) => this.deliver(command, sending),
    });
  }

  async start(): Promise<void> {
    this.running = true;
    this.wakes.start();
    this.queued.start();
  }

  /** Refuses new commands and answers those in progress; their requests end on their own deadlines. */
  async stop(): Promise<void> {
    this.running = false;
    this.queued.stop();
    this.wakes.stop();
    for (const settle of [...this.pending]) settle(failure('timeout', 'the gateway is stopping'));
  }

  /** Keeps a command in the store until its device is awake (DESIGN.md "Sleepy devices"). */
  enqueue: Enqueue = (id, command, ttlSeconds) => {
    const problem = commandProblem(command);
    if (problem) return { ok: false, error: { code: 'bad_request', message: problem } };
    return this.queued.enqueue(id, command, ttlSeconds);
  };

  cancel: Cancel = (id) => this.queued.cancel(id);

  /** Devices with a command running or waiting in line (read-only: tests check nothing is left behind). */
  get busyDevices(): number {
    return this.queue.busyDevices;
  }

  execute(command: Command): Promise<CommandResult> {
    const problem = commandProblem(command);
    if (problem) return Promise.resolve(failure('bad_request', problem));
    if (!this.running) return Promise.resolve(failure('timeout', 'the executer is not running'));
    const refusal = this.refusal(command.device);
    if (refusal) return Promise.resolve(refusal);

    const { defaultTimeoutMs, maxTimeoutMs } = this.deps.config;
    const timeoutMs = Math.min(command.timeout ?? defaultTimeoutMs, maxTimeoutMs);
    const deadline = performance.now() + timeoutMs;
    return new Promise<CommandResult>((resolve) => {
      let settled = false;
      const settle = (result: CommandResult): void => {
        if (settled) return;
        settled = true;
        timer.clear();
        this.pending.delete(settle);
        resolve(result);
      };
      this.pending.add(settle);
      // Whether queued or sending, the caller hears back at its deadline (the client's own bound is the same).
      const timer = deadlineTimer(timeoutMs, () => settle(failure('timeout', `no reply within ${timeoutMs} ms`)));
      void this.queue.run(command.device, async () => {
        if (settled) return; // answered (deadline or stop) while still waiting in line: never sent
        settle(await this.send(command, deadline));
      });
    });
  }

  private refusal(deviceId: string): CommandResult | undefined {
    const device = this.deps.store.devices.get(deviceId);
    if (!device) return failure('unknown_device', `no device ${deviceId}`);
    // docs/design.md "Addresses": a removed or expired registration is never commanded, whatever answers there now.
    if (this.deps.store.registrations.live(deviceId) === undefined) {
      return failure('unknown_device', `device ${deviceId} is not registered (removed or expired)`);
    }
    if (device.status === 'offline') return failure('device_offline', `device ${deviceId} is offline`);
    return undefined;
  }

  /** A queued command's turn: sent only if the device is online right now, with its own timeout from here. */
  private deliver(command: Command, sending: () => void): Promise<CommandResult | 'unreachable'> {
    const { defaultTimeoutMs, maxTimeoutMs } = this.deps.config;
    return this.queue.run(command.device, async () => {
      if (!this.running || this.deps.store.devices.get(command.device)?.status !== 'online') return 'unreachable';
      sending();
      return this.send(command, performance.now() + Math.min(command.timeout ?? defaultTimeoutMs, maxTimeoutMs));
    });
  }

  private async send(command: Command, deadline: number): Promise<CommandResult> {
    // Read again at its turn: the device may have re-registered from a new address while the command waited.
    let refusal = this.refusal(command.device);
    if (refusal) return refusal;
    // A sleepy device between its awake windows: the command waits for it to wake, within its own deadline.
    if (this.deps.store.devices.get(command.device)!.status === 'asleep') {
      const woke = await this.wakes.wait(command.device, deadline - performance.now());
      if (!woke) return failure('timeout', `device ${command.device} is asleep and did not wake before the deadline`);
      refusal = this.refusal(command.device);
      if (refusal) return refusal;
    }
    const device = this.deps.store.devices.get(command.device)!;
    const remainingMs = Math.ceil(deadline - performance.now());
    if (remainingMs <= 0) return failure('timeout', 'deadline passed while waiting for earlier commands');
    try {
      const reply = await this.deps.client.request({
        host: device.host,
        port: device.port,
        method: command.method,
        path: command.path,
        query: command.query,
        payload: command.payload,
        contentFormat: command.ct,
        accept: command.accept,
        timeoutMs: remainingMs,
      });
      return { ok: true, code: reply.code, ct: reply.contentFormat ?? null, payload: reply.payload };
    } catch (err) {
      return this.failed(command, err);
    }
  }

  private failed(command: Command, err: unknown): CommandResult {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof CoapTimeoutError) {
      // A command without an answer: is the device still there? Checked now, not at the next ping round.
      this.deps.checkLiveness?.(command.device);
      return failure('timeout', message);
    }
    // RFC 7252 §4.2: a Reset means the device could not process the request at all.
    if (err instanceof CoapResetError) return failure('bad_request', `the device rejected the request: ${message}`);
    this.deps.log.warn(
      { device: command.device, method: command.method, path: command.path, err: message },
      'command failed',
    );
    return failure('device_offline', `could not complete the exchange: ${message}`);
  }
}
