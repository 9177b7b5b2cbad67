import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * The wire contract of the platform link (DESIGN.md "Wire contract", docs/protocol.md).
 * Every frame is a JSON text frame `{"type": ...}`; this file owns every frame type and its validation
 * (ws's "validate at the edge, once"): the gateway and the hub parse with it and never re-check shapes.
 */

/** Largest frame either side accepts (UTF-8 bytes); a larger one is answered with an `error` frame. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * The WebSocket layer's own limit (ws `maxPayload`), above MAX_FRAME_BYTES so that an oversized frame
 * reaches the parser and gets a named `error` instead of a 1009 close; past this one ws closes with 1009.
 */
export const WS_MAX_PAYLOAD_BYTES = 16 * MAX_FRAME_BYTES;

/** WebSocket close codes of the link (RFC 6455 §7.4.2: 4000–4999 are the application's). */
export const closeCodes = {
  normal: 1000,
  /** The hub is shutting down or restarting. */
  goingAway: 1001,
  /** Unknown gateway id or wrong HMAC. */
  badCredentials: 4001,
  /** No `hello` within the handshake window. */
  handshakeTimeout: 4002,
  /** A newer session of the same gateway id took over. */
  replaced: 4003,
  /** A frame the handshake cannot go on with (e.g. `hello` is not the first frame). */
  protocolError: 4008,
} as const;
export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];

/** Codes of `error` frames: what was wrong with the frame the peer sent. */
export const protocolErrorCodes = [
  'invalid_json',
  'invalid_frame',
  'unknown_type',
  'frame_too_large',
  'binary_frame',
  'unexpected_frame',
] as const;
export type ProtocolErrorCode = (typeof protocolErrorCodes)[number];

export const commandErrorCodes = ['unknown_device', 'device_offline', 'timeout', 'bad_request'] as const;
export const coapMethods = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'] as const;
export const deviceEventNames = [
  'device.registered',
  'device.updated',
  'device.removed',
  'device.online',
  'device.offline',
] as const;

/** HMAC-SHA256 (hex) of the hub's nonce under the gateway's secret: proves the secret without sending it. */
export function hmacOf(nonce: string, secret: string): string {
  return createHmac('sha256', secret).update(nonce, 'utf8').digest('hex');
}

/** Constant-time check of a `hello`'s hmac against the expected secret. */
export function verifyHmac(nonce: string, secret: string, hmac: string): boolean {
  const expected = Buffer.from(hmacOf(nonce, secret), 'hex');
  const given = Buffer.from(hmac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

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
  status: z.enum(['online', 'offline']),
  source: z.enum(['registration', 'simple', 'discovery']),
  registered: z.boolean(),
  lastSeen: timestamp,
  resources: z.array(link),
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
});

/** Each frame type's schema, by type: the parser picks one by `type` and checks only that one. */
export const hubFrameSchemas = {
  challenge: challengeFrame,
  welcome: welcomeFrame,
  ack: ackFrame,
  command: commandFrame,
  error: errorFrame,
};

// ---- gateway → hub ------------------------------------------------------------------------------

const helloFrame = z.object({
  type: z.literal('hello'),
  gateway: id,
  hmac: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (HMAC-SHA256)'),
});

const eventFrame = z.object({
  type: z.literal('event'),
  seq,
  name: z.enum(deviceEventNames),
  device: deviceInfoSchema,
  reason: z.enum(['deleted', 'expired', 'replaced']).optional(),
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

export const gatewayFrameSchemas = {
  hello: helloFrame,
  event: eventFrame,
  telemetry: telemetryFrame,
  snapshot: snapshotFrame,
  result: z.union([resultErrorFrame, resultOkFrame]),
  error: errorFrame,
};

// ---- types --------------------------------------------------------------------------------------

export type DeviceInfoFrame = z.infer<typeof deviceInfoSchema>;
export type ChallengeFrame = z.infer<typeof challengeFrame>;
export type WelcomeFrame = z.infer<typeof welcomeFrame>;
export type AckFrame = z.infer<typeof ackFrame>;
export type CommandFrame = z.infer<typeof commandFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;
export type HelloFrame = z.infer<typeof helloFrame>;
export type EventFrame = z.infer<typeof eventFrame>;
export type TelemetryFrame = z.infer<typeof telemetryFrame>;
export type SnapshotFrame = z.infer<typeof snapshotFrame>;
export type ResultOkFrame = z.infer<typeof resultOkFrame>;
export type ResultErrorFrame = z.infer<typeof resultErrorFrame>;
export type ResultFrame = ResultOkFrame | ResultErrorFrame;

type Schemas = Record<string, z.ZodType<{ type: string }>>;
type FrameOfSchemas<S extends Schemas> = { [T in keyof S]: z.infer<S[T]> }[keyof S];

export type HubFrame = FrameOfSchemas<typeof hubFrameSchemas>;
export type GatewayFrame = FrameOfSchemas<typeof gatewayFrameSchemas>;
export type HubFrameType = keyof typeof hubFrameSchemas;
export type GatewayFrameType = keyof typeof gatewayFrameSchemas;
export type HubFrameOf<T extends HubFrameType> = Extract<HubFrame, { type: T }>;
export type GatewayFrameOf<T extends GatewayFrameType> = Extract<GatewayFrame, { type: T }>;

export const hubFrameTypes = Object.keys(hubFrameSchemas) as HubFrameType[];
export const gatewayFrameTypes = Object.keys(gatewayFrameSchemas) as GatewayFrameType[];

// ---- parsing ------------------------------------------------------------------------------------

/** Why a frame was refused: `code` for the `error` frame, `ref` the command id or frame type when known. */
export interface FrameProblem {
  code: ProtocolErrorCode;
  message: string;
  ref?: string;
}

export type ParseResult<F> = { ok: true; frame: F } | { ok: false; error: FrameProblem };

/** What ws hands a 'message' listener: text as a Buffer (or fragments), with its binary flag. */
export type RawFrame = string | Buffer | ArrayBuffer | Buffer[];

function parseWith<S extends Schemas>(schemas: S, data: RawFrame, isBinary: boolean): ParseResult<FrameOfSchemas<S>> {
  if (isBinary) return refuse('binary_frame', 'frames are JSON text; binary frames are not accepted');
  const text = typeof data === 'string' ? data : toBuffer(data);
  const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  if (size > MAX_FRAME_BYTES) {
    return refuse('frame_too_large', `frame of ${size} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (err) {
    return refuse('invalid_json', `not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return refuse('invalid_frame', 'a frame is a JSON object with a "type"');
  }
  const type = (raw as { type?: unknown }).type;
  const schema = typeof type === 'string' && Object.hasOwn(schemas, type) ? schemas[type] : undefined;
  if (schema === undefined) {
    const known = Object.keys(schemas).join(', ');
    return refuse('unknown_type', `unknown frame type ${JSON.stringify(type)}; expected one of ${known}`);
  }
  const parsed = (variantOf(raw as Record<string, unknown>) ?? schema).safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data as FrameOfSchemas<S> };
  const ref = refOf(raw as Record<string, unknown>);
  const problems = parsed.error.issues.map((issue) => `${[type as string, ...issue.path].join('.')}: ${issue.message}`);
  return refuse('invalid_frame', problems.join('; '), ref);
}

/**
 * A `result` is a reply or a failure, told apart by its `error` key: checking against that variant alone
 * names the actual problem instead of zod's "Invalid input" for a union.
 */
function variantOf(raw: Record<string, unknown>): z.ZodType | undefined {
  if (raw.type !== 'result') return undefined;
  return 'error' in raw ? resultErrorFrame : resultOkFrame;
}

function refuse(code: ProtocolErrorCode, message: string, ref?: string): { ok: false; error: FrameProblem } {
  return { ok: false, error: ref === undefined ? { code, message } : { code, message, ref } };
}

/** A command's id (so the hub can fail that command), else the frame's type. */
function refOf(raw: Record<string, unknown>): string | undefined {
  if (typeof raw.id === 'string' && raw.id !== '') return raw.id;
  return typeof raw.type === 'string' ? raw.type : undefined;
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Parses a frame the gateway received from the hub. */
export function parseHubFrame(data: RawFrame, isBinary = false): ParseResult<HubFrame> {
  return parseWith(hubFrameSchemas, data, isBinary);
}

/** Parses a frame the hub received from a gateway. */
export function parseGatewayFrame(data: RawFrame, isBinary = false): ParseResult<GatewayFrame> {
  return parseWith(gatewayFrameSchemas, data, isBinary);
}

/** The text of a frame (the one place frames are serialised). */
export function encodeFrame(frame: HubFrame | GatewayFrame): string {
  return JSON.stringify(frame);
}

/** The `error` frame that answers a refused frame. */
export function errorFrameFor(problem: FrameProblem): ErrorFrame {
  return { type: 'error', ...problem };
}
