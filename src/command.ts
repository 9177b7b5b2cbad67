import type { CoapCode, CoapMethod } from './coap/types.js';

/** A platform command for one device (docs/design.md, data flow "Command"), as the Executer takes it. */
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

/** Why a command produced no CoAP response; the platform link's `result` frames carry exactly these. */
export const COMMAND_ERROR_CODES = ['unknown_device', 'device_offline', 'timeout', 'bad_request'] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

/**
 * The longest a command may run, retransmissions and block-wise transfer included: the Executer's
 * `maxTimeoutMs` default, the hub's ceiling for a command's `timeout`, the connector's guard when none is named.
 */
export const MAX_COMMAND_TIMEOUT_MS = 120_000;

/** Exactly one of these per command; never thrown across a component boundary. */
export type CommandResult =
  | { ok: true; code: CoapCode; ct: number | null; payload: Buffer }
  | { ok: false; error: { code: CommandErrorCode; message: string } };

export type Execute = (command: Command) => Promise<CommandResult>;
