import type { CoapCode, CoapMethod } from './coap/types.js';

/** A platform command for one device (DESIGN.md "Command"), as the Executer takes it. */
export interface Command {
  device: string;
  method: CoapMethod;
  path: string;
  query?: string[];
  payload?: Buffer;
  ct?: number;
  accept?: number;
  /** Deadline in ms for the whole exchange, retransmissions and block-wise transfer included. */
  timeout?: number;
}

export type CommandErrorCode = 'unknown_device' | 'device_offline' | 'timeout' | 'bad_request';

/** Exactly one of these per command; never thrown across a component boundary. */
export type CommandResult =
  | { ok: true; code: CoapCode; ct: number | null; payload: Buffer }
  | { ok: false; error: { code: CommandErrorCode; message: string } };

export type Execute = (command: Command) => Promise<CommandResult>;
