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
export const COMMAND_ERROR_CODES = [
  'unknown_device',
  'device_offline',
  'timeout',
  'bad_request',
  // A queued command refused: the device's queue is at its limit (HTTP 429), or the gateway's (HTTP 507).
  'device_queue_full',
  'queue_full',
] as const;
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

/**
 * Where a queued command stands: waiting for the device to be awake, on its way, answered by the device
 * (`done`, whatever the CoAP code), ended without an answer (`failed`), past its ttl, or cancelled.
 */
export type QueuedStatus = 'queued' | 'sent' | 'done' | 'failed' | 'expired' | 'cancelled';
export const QUEUED_STATUSES: readonly QueuedStatus[] = ['queued', 'sent', 'done', 'failed', 'expired', 'cancelled'];
export const isFinal = (status: QueuedStatus): boolean => status !== 'queued' && status !== 'sent';

/** A result as stored and as events carry it: plain data, the reply's bytes as base64. */
export type StoredResult =
  { code: CoapCode; ct: number | null; payload: string } | { error: { code: CommandErrorCode; message: string } };

export function storedResult(result: CommandResult): StoredResult {
  if (!result.ok) return { error: result.error };
  return { code: result.code, ct: result.ct, payload: result.payload.toString('base64') };
}

/** A command kept in the gateway's store until the device is awake to take it (DESIGN.md "Sleepy devices"). */
export interface QueuedCommand {
  id: string;
  command: Command;
  status: QueuedStatus;
  result?: StoredResult;
  createdAt: number;
  expiresAt: number;
  updatedAt: number;
}

/** What events and the platform see of a queued command as it moves on: plain data. */
export interface CommandStatusInfo {
  id: string;
  device: string;
  method: CoapMethod;
  path: string;
  status: QueuedStatus;
  result?: StoredResult;
  expiresAt: number;
  ts: number;
}

export function statusInfo(queued: QueuedCommand): CommandStatusInfo {
  const { command } = queued;
  return {
    id: queued.id,
    device: command.device,
    method: command.method,
    path: command.path,
    status: queued.status,
    ...(queued.result !== undefined && { result: queued.result }),
    expiresAt: queued.expiresAt,
    ts: queued.updatedAt,
  };
}

/** Queue a command for when its device is awake (DESIGN.md "Sleepy devices"); refusals are results, never throws. */
export type Enqueue = (
  id: string,
  command: Command,
  ttlSeconds?: number,
) => { ok: true; command: QueuedCommand } | { ok: false; error: { code: CommandErrorCode; message: string } };

/** Cancels a queued command; the command as it now stands, or undefined for an unknown id. */
export type Cancel = (id: string) => QueuedCommand | undefined;
