import type { ResultFrame, ResultOkFrame } from '../protocol/index.js';
import { HttpError } from './http-io.js';

export type CommandOutcome = { ok: true; reply: ResultOkFrame } | { ok: false; error: HttpError };

interface Pending {
  session: string;
  timer: NodeJS.Timeout;
  settle: (outcome: CommandOutcome) => void;
}

/** How each command error a gateway reports maps onto the HTTP API (docs/api.md "Send a command"). */
const errorStatus = {
  unknown_device: 404,
  device_offline: 503,
  timeout: 504,
  bad_request: 400,
} as const;

/**
 * Commands sent to gateways and waiting for their `result`: exactly one outcome each,
 * whichever comes first of the result, the deadline (504) or the gateway's session ending (503).
 */
export class PendingCommands {
  private readonly pending = new Map<string, Pending>();

  /** Registers command `id` sent on `session`; resolves with its outcome, never rejects. */
  wait(id: string, session: string, timeoutMs: number): Promise<CommandOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.finish(id, { ok: false, error: new HttpError(504, 'timeout', `no reply within ${timeoutMs} ms`) }),
        timeoutMs,
      );
      this.pending.set(id, { session, timer, settle: resolve });
    });
  }

  /** A `result` frame from `session`; false when no command of that session waits for it (late or foreign). */
  settle(session: string, frame: ResultFrame): boolean {
    if (this.pending.get(frame.id)?.session !== session) return false;
    if ('error' in frame) {
      const { code, message } = frame.error;
      return this.finish(frame.id, { ok: false, error: new HttpError(errorStatus[code], code, message) });
    }
    return this.finish(frame.id, { ok: true, reply: frame });
  }

  /** Fails one command, e.g. when its gateway refused the frame. */
  fail(id: string, session: string, error: HttpError): void {
    if (this.pending.get(id)?.session === session) this.finish(id, { ok: false, error });
  }

  /** Fails every command still waiting on `session` (it closed), or on any session when none is given. */
  failSession(session: string | undefined, error: HttpError): void {
    for (const [id, entry] of this.pending) {
      if (session === undefined || entry.session === session) this.finish(id, { ok: false, error });
    }
  }

  get size(): number {
    return this.pending.size;
  }

  private finish(id: string, outcome: CommandOutcome): boolean {
    const entry = this.pending.get(id);
    if (entry === undefined) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.settle(outcome);
    return true;
  }
}
