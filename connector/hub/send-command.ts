import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { coapMethods, type CommandFrame } from '../protocol/index.js';
import { ContentFormat } from '../../src/coap/types.js';
import { badRequest } from './http-io.js';

/** The body of `POST /v1/devices/:id/send` (docs/api.md "Send a command"). */
export function sendBodySchema(maxTimeoutMs: number) {
  return z
    .object({
      method: z.enum(coapMethods),
      path: z.string().startsWith('/', 'must start with "/"').max(1024),
      query: z.union([z.array(z.string()), z.string()]).optional(),
      payload: z.unknown().optional(),
      ct: z.number().int().min(0).max(65535).optional(),
      accept: z.number().int().min(0).max(65535).optional(),
      encoding: z.literal('base64').optional(),
      timeout: z.number().int().positive().max(maxTimeoutMs).optional(),
    })
    .strict();
}

export type SendBody = z.infer<ReturnType<typeof sendBodySchema>>;

/**
 * The `command` frame for a validated body. A payload without `ct` travels as text (ct 0) when it is a string
 * and as JSON (ct 50) otherwise, following the link's payload rules (docs/design.md "Wire contract" 4).
 */
export function commandFrameOf(device: string, body: SendBody, timeout: number): CommandFrame {
  const frame: CommandFrame = {
    type: 'command',
    id: randomUUID(),
    device,
    method: body.method,
    path: body.path,
    timeout,
  };
  if (body.query !== undefined) frame.query = typeof body.query === 'string' ? splitQuery(body.query) : body.query;
  if (body.accept !== undefined) frame.accept = body.accept;
  if (body.payload === undefined) {
    if (body.encoding !== undefined) throw badRequest('encoding: given without a payload');
    if (body.ct !== undefined) frame.ct = body.ct;
    return frame;
  }
  if (body.encoding === 'base64') {
    if (typeof body.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body.payload)) {
      throw badRequest('payload: must be a base64 string when encoding is "base64"');
    }
    frame.encoding = 'base64';
  }
  frame.payload = body.payload;
  frame.ct = body.ct ?? (typeof body.payload === 'string' ? ContentFormat.text : ContentFormat.json);
  return frame;
}

/** `a=1&b` → `['a=1', 'b']`: one Uri-Query option each (RFC 7252 §6.5). */
function splitQuery(query: string): string[] {
  return query
    .replace(/^\?/, '')
    .split('&')
    .filter((item) => item !== '');
}
