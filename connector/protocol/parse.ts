import { MAX_FRAME_BYTES, type ProtocolErrorCode } from './constants.js';
import {
  gatewayFrameSchemas,
  hubFrameSchemas,
  variantOf,
  type ErrorFrame,
  type FrameOfSchemas,
  type GatewayFrame,
  type HubFrame,
  type Schemas,
} from './frames.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../src/json-depth.js';
import { plainEvent, plainTelemetry } from './fast-path.js';

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

/** Checks that accept a frame of a type as it is, or leave it to the schema (fast-path.ts). */
type FastPaths = Record<string, (raw: Record<string, unknown>) => unknown>;

function parseWith<S extends Schemas>(
  schemas: S,
  data: RawFrame,
  isBinary: boolean,
  fast: FastPaths = {},
): ParseResult<FrameOfSchemas<S>> {
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
  if (nestedDeeperThan(raw)) return refuse('invalid_frame', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  const type = (raw as { type?: unknown }).type;
  const schema = typeof type === 'string' && Object.hasOwn(schemas, type) ? schemas[type] : undefined;
  if (schema === undefined) {
    const known = Object.keys(schemas).join(', ');
    return refuse('unknown_type', `unknown frame type ${JSON.stringify(type)}; expected one of ${known}`);
  }
  const accepted = fast[type as string]?.(raw as Record<string, unknown>);
  if (accepted !== undefined) return { ok: true, frame: accepted as FrameOfSchemas<S> };
  const parsed = (variantOf(raw as Record<string, unknown>) ?? schema).safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data as FrameOfSchemas<S> };
  const ref = refOf(raw as Record<string, unknown>);
  const problems = parsed.error.issues.map((issue) => `${[type as string, ...issue.path].join('.')}: ${issue.message}`);
  return refuse('invalid_frame', problems.join('; '), ref);
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

const GATEWAY_FAST_PATHS: FastPaths = { telemetry: plainTelemetry, event: plainEvent };

/** Parses a frame the hub received from a gateway. */
export function parseGatewayFrame(data: RawFrame, isBinary = false): ParseResult<GatewayFrame> {
  return parseWith(gatewayFrameSchemas, data, isBinary, GATEWAY_FAST_PATHS);
}

/** The text of a frame (the one place frames are serialised). */
export function encodeFrame(frame: HubFrame | GatewayFrame): string {
  return JSON.stringify(frame);
}

/** The `error` frame that answers a refused frame. */
export function errorFrameFor(problem: FrameProblem): ErrorFrame {
  return { type: 'error', ...problem };
}
