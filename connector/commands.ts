import {
  MAX_COMMAND_TIMEOUT_MS,
  type Cancel,
  type Command,
  type CommandResult,
  type Enqueue,
  type Execute,
} from '../src/command.js';
import type { Logger } from '../src/log.js';
import { fromWire, toWire } from './payload.js';
import type { CommandFrame, FrameProblem, ResultFrame } from './protocol/index.js';

/** Results kept for answering a retried command id without executing it again. */
export const RESULT_CACHE_SIZE = 1024;
const GUARD_MARGIN_MS = 2_000;

type Reply = (result: ResultFrame) => void;

/** The gateway's command queue, when it has one (DESIGN.md "Sleepy devices"). */
export interface QueueOps {
  enqueue?: Enqueue;
  cancel?: Cancel;
}

/**
 * Downstream commands: exactly one `result` per command id. A repeated id (the hub retrying after a
 * lost link) is answered from the first execution: from the cache when it has finished, and by the
 * one reply to come when it is still running. The device is never asked twice.
 */
export class CommandRunner {
  private readonly done = new Map<string, ResultFrame>();
  private readonly running = new Set<string>();

  constructor(
    private readonly execute: Execute,
    private readonly log: Logger,
    private readonly queue: QueueOps = {},
    private readonly cacheSize = RESULT_CACHE_SIZE,
  ) {}

  /**
   * Runs `frame` (or recognises it as a repeat); `reply` gets its result when there is one to send. A queued
   * command (`queue: true`) is answered by its `command_status` events; here only a refusal is a `result`.
   */
  handle(frame: CommandFrame, reply: Reply): void {
    if (frame.queue) return this.enqueue(frame, reply);
    const cached = this.done.get(frame.id);
    if (cached !== undefined) {
      this.remember(cached);
      reply(cached);
      return;
    }
    if (this.running.has(frame.id)) return;
    this.running.add(frame.id);
    void this.run(frame).then((result) => {
      this.running.delete(frame.id);
      this.remember(result);
      reply(result);
    });
  }

  /** Commands whose result has not been produced yet. */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Cancels queued command `id`: its status goes upstream as `command_status` (cancelled, or what it already
   * is); an id the gateway does not hold is refused.
   */
  cancel(id: string, refuse: (problem: FrameProblem) => void): void {
    if (this.queue.cancel?.(id) === undefined) {
      refuse({ code: 'unknown_command', message: `no queued command ${id} on this gateway`, ref: id });
    }
  }

  private enqueue(frame: CommandFrame, reply: Reply): void {
    const built = commandOf(frame);
    if (!built.ok) return reply(failure(frame.id, built));
    if (this.queue.enqueue === undefined) {
      return reply(
        failure(frame.id, {
          ok: false,
          error: { code: 'bad_request', message: 'this gateway keeps no command queue' },
        }),
      );
    }
    const queued = this.queue.enqueue(frame.id, built.command, frame.ttl);
    if (!queued.ok) reply(failure(frame.id, queued));
  }

  private async run(frame: CommandFrame): Promise<ResultFrame> {
    const built = commandOf(frame);
    if (!built.ok) return failure(frame.id, built);
    const { command } = built;
    const result = await this.executeGuarded(command, frame.timeout);
    if (!result.ok) return failure(frame.id, result);
    const wire = toWire(result.ct, result.payload, frame.path);
    return {
      type: 'result',
      id: frame.id,
      code: result.code,
      ct: result.ct,
      payload: wire.value,
      ...(wire.encoding && { encoding: wire.encoding }),
    };
  }

  /** The Executer keeps its deadline; this guard makes a result certain even if it did not. */
  private executeGuarded(command: Command, timeoutMs: number | undefined): Promise<CommandResult> {
    const guardMs = (timeoutMs ?? MAX_COMMAND_TIMEOUT_MS) + GUARD_MARGIN_MS;
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<CommandResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, error: { code: 'timeout', message: `no reply within ${guardMs} ms` } }),
        guardMs,
      );
      // The guard only backs up a running command; it must not keep a stopping process alive.
      timer.unref();
    });
    const executed = this.execute(command).catch((err: unknown): CommandResult => {
      this.log.error({ err, device: command.device }, 'command execution failed');
      return { ok: false, error: { code: 'bad_request', message: `the gateway could not execute it: ${String(err)}` } };
    });
    return Promise.race([executed, guard]).finally(() => clearTimeout(timer));
  }

  /** Least recently used first out: a Map iterates in insertion order, so a hit is re-inserted. */
  private remember(result: ResultFrame): void {
    this.done.delete(result.id);
    this.done.set(result.id, result);
    if (this.done.size > this.cacheSize) this.done.delete(this.done.keys().next().value!);
  }
}

/** The Executer's command for a frame, its payload encoded for `ct` (and the LwM2M path). */
function commandOf(frame: CommandFrame): { ok: true; command: Command } | Extract<CommandResult, { ok: false }> {
  const payload = fromWire(frame.payload, frame.ct, frame.encoding, frame.path);
  if (!payload.ok) return { ok: false, error: { code: 'bad_request', message: payload.error } };
  const command: Command = {
    device: frame.device,
    method: frame.method,
    path: frame.path,
    ...(frame.query && { query: frame.query }),
    ...(payload.bytes && { payload: payload.bytes }),
    ...(payload.ct !== undefined && { ct: payload.ct }),
    ...(frame.accept !== undefined && { accept: frame.accept }),
    ...(frame.timeout !== undefined && { timeout: frame.timeout }),
  };
  return { ok: true, command };
}

function failure(id: string, result: Extract<CommandResult, { ok: false }>): ResultFrame {
  return { type: 'result', id, error: result.error };
}
