import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../src/json-depth.js';

/** The `error.code` values of the HTTP API (docs/api.md "Errors"). */
export type ApiErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unknown_device'
  | 'device_offline'
  | 'gateway_disconnected'
  | 'gateway_error'
  | 'timeout'
  | 'device_queue_full'
  | 'queue_full'
  | 'unknown_command'
  | 'not_cancellable'
  | 'not_supported'
  | 'internal';

/** Thrown by handlers, rendered once by the router as `{error: {code, message}}` with `status`. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'bad_request', message);

/** A request the client gave up on (closed mid-body): nobody is left to answer, and it is not the hub's fault. */
export function isAborted(req: IncomingMessage, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || (req.destroyed && !req.complete);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Items per write of a list reply. */
const LIST_SLICE = 500;

/**
 * A 200 reply `{"<key>": [...]}` written a slice of items at a time, each once the one before has drained: a
 * list's whole text at once (34 MB for 50,000 devices) was one string and one buffer, and the C allocator kept
 * their pages (the hub's RSS grew 110 MB over three `GET /v1/devices` and stayed there; most of the fleet bench's
 * RSS slope per device). Chunked transfer encoding, so no content-length.
 */
export async function sendJsonList<T>(
  res: ServerResponse,
  key: string,
  items: readonly T[],
  view: (item: T) => unknown,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  let text = `{${JSON.stringify(key)}:[`;
  for (let i = 0; i < items.length; i += LIST_SLICE) {
    if (i > 0) text += ',';
    text += items
      .slice(i, i + LIST_SLICE)
      .map((item) => JSON.stringify(view(item)))
      .join(',');
    if (!res.write(text)) await drained(res);
    if (res.destroyed) return;
    text = '';
  }
  res.end(`${text}]}`);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: { code: error.code, message: error.message } });
}

/**
 * Reads a JSON body of at most `limit` bytes, whatever its content-type says (curl's `-d` sends a form type);
 * 413 beyond it (stops reading early), 400 when it does not parse.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest('the body is empty; a JSON object is expected');
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`the body is not valid JSON (${(err as Error).message})`);
  }
  if (nestedDeeperThan(body)) throw badRequest(`the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return body;
}

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `the body is larger than ${limit} bytes`);
}

/** Validates `value` against `schema`; a 400 names the first offending field. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : what;
  throw badRequest(`${field}: ${issue.message}`);
}
