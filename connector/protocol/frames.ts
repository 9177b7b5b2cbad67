import { z } from 'zod';
import {
  coapMethods,
  commandErrorCodes,
  commandStatuses,
  deviceEventNames,
  MAX_REFRESHES_PER_FRAME,
  removalReasons,
} from './constants.js';

/** Every frame of the platform link, its schema and its type (docs/protocol.md). */

// ---- building blocks ----------------------------------------------------------------------------

const seq = z.number().int().min(0);
const timestamp = z.number().int().min(0);
const contentFormat = z.number().int().min(0).max(65535);
const id = z.string().min(1).max(256);
/** A JSON value; `undefined` (an absent key) is not one. */
const jsonValue = z.custom<unknown>((value) => value !== undefined, 'required');
const base64 = z.literal('base64');

const link = z.object({
  href: z.string(),
  attrs: z.record(z.string(), z.union([z.string(), z.literal(true)])),
});

export const deviceInfoSchema = z.object({
  id,
  ep: z.string().nullable(),
  d: z.string().nullable(),
  address: z.string(),
  status: z.enum(['online', 'offline', 'asleep']),
  source: z.enum(['registration', 'simple', 'discovery']),
  registered: z.boolean(),
  lastSeen: timestamp,
  resources: z.array(link),
  /** Absent from gateways that predate it. */
  registration: z
    .object({
      base: z.string(),
      lt: z.number().int().min(0),
      et: z.string().nullable(),
      attrs: z.record(z.string(), z.union([z.string(), z.literal(true)])),
      updatedAt: timestamp,
      expiresAt: timestamp,
    })
    .nullable()
    .optional(),
  /** Sleeps between awake windows (LwM2M queue mode, configuration, or the `sleepy` attribute). */
  sleepy: z.boolean().optional(),
});

const errorFrame = z.object({
  type: z.literal('error'),
  code: z.string().min(1),
  message: z.string(),
  /** What the error is about: a command id, a frame type. */
  ref: z.string().optional(),
});

// ---- hub → gateway ------------------------------------------------------------------------------

const challengeFrame = z.object({
  type: z.literal('challenge'),
  nonce: z.string().min(16).max(256),
  /** Seconds between WebSocket pings the gateway should send. */
  heartbeat: z.number().positive(),
});

const welcomeFrame = z.object({
  type: z.literal('welcome'),
  /** The last seq the hub holds from this gateway: the gateway resends everything after it. */
  lastSeq: seq,
});

const ackFrame = z.object({
  type: z.literal('ack'),
  /** Cumulative: everything up to and including this seq has reached the hub. */
  seq,
});

const commandFrame = z.object({
  type: z.literal('command'),
  id,
  device: id,
  method: z.enum(coapMethods),
  path: z.string().startsWith('/'),
  query: z.array(z.string()).optional(),
  payload: z.unknown().optional(),
  ct: contentFormat.optional(),
  accept: contentFormat.optional(),
  /** Deadline in ms for the whole exchange. */
  timeout: z.number().positive().optional(),
  encoding: base64.optional(),
  /** Keep it in the gateway's queue until the device is awake; answered by `command_status`, not `result`. */
  queue: z.literal(true).optional(),
  /** Seconds a queued command may wait before it expires. */
  ttl: z.number().int().positive().optional(),
});

const cancelFrame = z.object({
  type: z.literal('cancel'),
  /** A queued command's id. */
  id,
});

/** Each frame type's schema, by type: the parser picks one by `type` and checks only that one. */
export const hubFrameSchemas = {
  challenge: challengeFrame,
  welcome: welcomeFrame,
  ack: ackFrame,
  command: commandFrame,
  cancel: cancelFrame,
  error: errorFrame,
};

// ---- gateway → hub ------------------------------------------------------------------------------

const helloFrame = z.object({
  type: z.literal('hello'),
  gateway: id,
  hmac: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (HMAC-SHA256)'),
  /**
   * The id of the gateway's store (its outbox and seq stream). Two gateways configured with the same id have
   * different stores: the hub refuses the second one instead of letting their seq streams collide.
   */
  instance: z.string().min(1).max(64).optional(),
});

const eventFrame = z.object({
  type: z.literal('event'),
  seq,
  name: z.enum(deviceEventNames),
  device: deviceInfoSchema,
  reason: z.enum(removalReasons).optional(),
  ts: timestamp,
});

const telemetryFrame = z.object({
  type: z.literal('telemetry'),
  seq,
  device: id,
  path: z.string(),
  ct: contentFormat.nullable(),
  value: jsonValue,
  encoding: base64.optional(),
  ts: timestamp,
});

const snapshotFrame = z.object({
  type: z.literal('snapshot'),
  /**
   * The gateway's last outbox seq when the snapshot was taken: events up to it are already reflected in
   * `devices`, so a hub replaying them after the snapshot keeps them as history, not as current state.
   */
  seq: seq.optional(),
  devices: z.array(deviceInfoSchema),
  /**
   * A snapshot larger than one frame comes in parts 0, 1, ... in order, every one but the last with
   * `more: true`; the hub replaces the gateway's devices once, when the last part arrived. Absent: one part.
   */
  part: z.number().int().min(0).optional(),
  more: z.boolean().optional(),
});

const resultOkFrame = z.object({
  type: z.literal('result'),
  id,
  /** CoAP response code in dotted form, e.g. `2.05`. */
  code: z.string().regex(/^[1-5]\.\d\d$/, 'must be a CoAP code such as 2.05'),
  ct: contentFormat.nullable(),
  payload: jsonValue,
  encoding: base64.optional(),
});

const resultErrorFrame = z.object({
  type: z.literal('result'),
  id,
  error: z.object({ code: z.enum(commandErrorCodes), message: z.string() }),
});

/** The device's reply to a queued command, as `result` carries one. */
const replySchema = resultOkFrame.omit({ type: true, id: true });
const failureSchema = resultErrorFrame.pick({ error: true });

const commandStatusFrame = z.object({
  type: z.literal('command_status'),
  seq,
  id,
  device: id,
  method: z.enum(coapMethods),
  path: z.string(),
  status: z.enum(commandStatuses),
  /** With `done`: the device's reply; with `failed` (and `expired`, `cancelled`): why. */
  result: z.union([replySchema, failureSchema]).optional(),
  /** When the command expires (ms since the epoch). */
  expiresAt: timestamp,
  ts: timestamp,
});

/**
 * Registrations whose lifetime was refreshed (RFC 9176 §5.3.1: an update that changed nothing else, from the
 * same address), coalesced per device: state, not history, so no seq, no outbox entry and no ack. Sent after the
 * events before it on the same link; lost with a link that drops, since the snapshot on reconnect carries the same.
 */
const refreshFrame = z.object({
  type: z.literal('refresh'),
  devices: z
    .array(z.object({ id, lastSeen: timestamp, updatedAt: timestamp, expiresAt: timestamp }))
    .min(1)
    .max(MAX_REFRESHES_PER_FRAME),
});

export const gatewayFrameSchemas = {
  hello: helloFrame,
  refresh: refreshFrame,
  event: eventFrame,
  telemetry: telemetryFrame,
  snapshot: snapshotFrame,
  result: z.union([resultErrorFrame, resultOkFrame]),
  command_status: commandStatusFrame,
  error: errorFrame,
};

// ---- types --------------------------------------------------------------------------------------

export type DeviceInfoFrame = z.infer<typeof deviceInfoSchema>;
export type ChallengeFrame = z.infer<typeof challengeFrame>;
export type WelcomeFrame = z.infer<typeof welcomeFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type CommandFrame = z.infer<typeof commandFrame>;
export type CancelFrame = z.infer<typeof cancelFrame>;
export type CommandStatusFrame = z.infer<typeof commandStatusFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;
export type HelloFrame = z.infer<typeof helloFrame>;
export type EventFrame = z.infer<typeof eventFrame>;
export type TelemetryFrame = z.infer<typeof telemetryFrame>;
export type SnapshotFrame = z.infer<typeof snapshotFrame>;
export type RefreshFrame = z.infer<typeof refreshFrame>;
export type ResultOkFrame = z.infer<typeof resultOkFrame>;
export type ResultErrorFrame = z.infer<typeof resultErrorFrame>;
export type ResultFrame = ResultOkFrame | ResultErrorFrame;

export type Schemas = Record<string, z.ZodType<{ type: string }>>;
export type FrameOfSchemas<S extends Schemas> = { [T in keyof S]: z.infer<S[T]> }[keyof S];

export type HubFrame = FrameOfSchemas<typeof hubFrameSchemas>;
export type GatewayFrame = FrameOfSchemas<typeof gatewayFrameSchemas>;
export type HubFrameType = keyof typeof hubFrameSchemas;
export type GatewayFrameType = keyof typeof gatewayFrameSchemas;
export type HubFrameOf<T extends HubFrameType> = Extract<HubFrame, { type: T }>;
export type GatewayFrameOf<T extends GatewayFrameType> = Extract<GatewayFrame, { type: T }>;

export const hubFrameTypes = Object.keys(hubFrameSchemas) as HubFrameType[];
export const gatewayFrameTypes = Object.keys(gatewayFrameSchemas) as GatewayFrameType[];

/**
 * A `result` is a reply or a failure, told apart by its `error` key: checking against that variant alone
 * names the actual problem instead of zod's "Invalid input" for a union.
 */
export function variantOf(raw: Record<string, unknown>): z.ZodType | undefined {
  if (raw.type !== 'result') return undefined;
  return 'error' in raw ? resultErrorFrame : resultOkFrame;
}
