import { z } from 'zod';
import { MAX_FRAME_BYTES } from './constants.js';
import {
  deviceInfoSchema,
  gatewayFrameSchemas,
  type DeviceInfoFrame,
  type ErrorFrame,
  type EventFrame,
  type ResultFrame,
  type TelemetryFrame,
} from './frames.js';
import { parseGatewayFrame } from './parse.js';

/**
 * Validation of "coregate over MQTT" messages (docs/protocol.md "coregate over MQTT") where a hub receives them:
 * once, at the edge, with the frame schemas of the WebSocket link. A message that fails is reported, never thrown.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const statusSchema = z.object({ online: z.boolean(), ts: z.number().int().min(0) });
export type GatewayStatus = z.infer<typeof statusSchema>;

function json(payload: Buffer): Parsed<unknown> {
  if (payload.length > MAX_FRAME_BYTES * 4)
    return { ok: false, error: `message of ${payload.length} bytes is too large` };
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` };
  }
}

function issues(error: z.ZodError, prefix: string): string {
  return error.issues.map((issue) => `${[prefix, ...issue.path].join('.')}: ${issue.message}`).join('; ');
}

/** `coregate/<gw>/up`: a JSON array of `event` and `telemetry` frames. */
export function parseUp(payload: Buffer): Parsed<(EventFrame | TelemetryFrame)[]> {
  const raw = json(payload);
  if (!raw.ok) return raw;
  if (!Array.isArray(raw.value)) return { ok: false, error: 'up: a JSON array of frames' };
  const frames: (EventFrame | TelemetryFrame)[] = [];
  for (const [index, item] of raw.value.entries()) {
    const type = (item as { type?: unknown } | null)?.type;
    const schema =
      type === 'event' ? gatewayFrameSchemas.event : type === 'telemetry' ? gatewayFrameSchemas.telemetry : undefined;
    if (schema === undefined) return { ok: false, error: `up[${index}]: an "event" or "telemetry" frame` };
    const parsed = schema.safeParse(item);
    if (!parsed.success) return { ok: false, error: issues(parsed.error, `up[${index}]`) };
    frames.push(parsed.data as EventFrame | TelemetryFrame);
  }
  return { ok: true, value: frames };
}

/** `coregate/<gw>/devices/<id>`: the device's info, or empty (removed). */
export function parseDeviceState(payload: Buffer, id: string): Parsed<DeviceInfoFrame | null> {
  if (payload.length === 0) return { ok: true, value: null };
  const raw = json(payload);
  if (!raw.ok) return raw;
  const parsed = deviceInfoSchema.safeParse(raw.value);
  if (!parsed.success) return { ok: false, error: issues(parsed.error, 'device') };
  if (parsed.data.id !== id) return { ok: false, error: `device.id ${parsed.data.id} is not the topic's ${id}` };
  return { ok: true, value: parsed.data };
}

/** `coregate/<gw>/status`: empty when the retained status was cleared. */
export function parseStatus(payload: Buffer): Parsed<GatewayStatus | null> {
  if (payload.length === 0) return { ok: true, value: null };
  const raw = json(payload);
  if (!raw.ok) return raw;
  const parsed = statusSchema.safeParse(raw.value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: issues(parsed.error, 'status') };
}

/** `coregate/<gw>/result`: a `result` frame, or the `error` frame a gateway answers a bad command with. */
export function parseResult(payload: Buffer): Parsed<ResultFrame | ErrorFrame> {
  const parsed = parseGatewayFrame(payload);
  if (!parsed.ok) return { ok: false, error: parsed.error.message };
  const frame = parsed.frame;
  if (frame.type !== 'result' && frame.type !== 'error')
    return { ok: false, error: `"${frame.type}" on a result topic` };
  return { ok: true, value: frame };
}

export function statusPayload(online: boolean): string {
  return JSON.stringify({ online, ts: Date.now() } satisfies GatewayStatus);
}
