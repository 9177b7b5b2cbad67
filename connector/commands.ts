import { MAX_COMMAND_TIMEOUT_MS, type Command, type CommandResult, type Execute } from '../src/command.js';
import type { Logger } from '../src/log.js';
import { fromWire, toWire } from './payload.js';
import type { CommandFrame, ResultFrame } from './protocol/index.js';

/** Results kept for answering a retried command id without executing it again. */
export const RESULT_CACHE_SIZE = 1024;
const GUARD_MARGIN_MS = 2_000;

type Reply = (result: ResultFrame) => void;

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
    private readonly cacheSize = RESULT_CACHE_SIZE,
  ) {}

  /** Runs `frame` (or recognises it as a repeat); `reply` gets its result when there is one to send. */
  handle(frame: CommandFrame, reply: Reply): void {
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

  private async run(frame: CommandFrame): Promise<ResultFrame> {
    const payload = fromWire(frame.payload, frame.ct, frame.encoding, frame.path);
    if (!payload.ok) return failure(frame.id, { ok: false, error: { code: 'bad_request', message: payload.error } });
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

function failure(id: string, result: Extract<CommandResult, { ok: false }>): ResultFrame {
  return { type: 'result', id, error: result.error };
}
