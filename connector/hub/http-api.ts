import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isAuthorized } from './auth.js';
import type { DeviceRegistry, HubDevice } from './device-registry.js';
import type { GatewaySessions } from './gateway-sessions.js';
import { encodeFrame, MAX_FRAME_BYTES } from '../protocol/index.js';
import { HttpError, isAborted, readJsonBody, sendError, sendJson, sendJsonList, validate } from './http-io.js';
import { eventName, isHubEventName, type PubSub } from './pubsub.js';
import type { QueuedCommandsApi } from './queued-commands-api.js';
import { commandFrameOf, sendBodySchema } from './send-command.js';

export interface HttpApiDeps {
  log: Logger;
  apiKey: string;
  registry: Pick<DeviceRegistry, 'list' | 'get'>;
  sessions: Pick<GatewaySessions, 'command' | 'isConnected'>;
  pubsub: PubSub;
  /** Absent on a hub that keeps no command records (a hub on a broker): queued sends are then 501. */
  queued?: QueuedCommandsApi;
  maxBodyBytes: number;
  commandTimeoutMs: number;
  maxCommandTimeoutMs: number;
  /** Added to a command's timeout while the hub waits, so that the gateway's own `timeout` result arrives first. */
  commandGraceMs: number;
  /** Further routes behind the same key (the read routes the dashboard uses: gateways, history, webhooks). */
  routes?: readonly Route[];
}

export type Params = Record<string, string>;
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: Params) => Promise<void> | void;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const publishBody = z.object({ event: eventName, data: z.unknown().optional() }).strict();
const clientName = z.string().min(1).max(128);

/** The hub's HTTP API (docs/api.md) on node:http: a route table, JSON in and out, every route behind the API key. */
export class HttpApi {
  private readonly routes: Route[];
  private readonly sendBody;

  constructor(private readonly deps: HttpApiDeps) {
    this.sendBody = sendBodySchema(deps.maxCommandTimeoutMs);
    const send: Handler = (req, res, url, params) => this.send(req, res, url, params.id!);
    const { queued } = deps;
    this.routes = [
      { method: 'GET', pattern: /^\/v1\/devices$/, handler: (_req, res, url) => this.listDevices(res, url) },
      {
        method: 'GET',
        pattern: /^\/v1\/devices\/(?<id>[^/]+)$/,
        handler: (_q, res, _u, p) => this.getDevice(res, p.id!),
      },
      { method: 'POST', pattern: /^\/v1\/devices\/(?<id>[^/]+)\/send$/, handler: send },
      // Cometa's route; its application id has no meaning here, the API key alone authorises.
      { method: 'POST', pattern: /^\/v1\/applications\/(?<app>[^/]+)\/devices\/(?<id>[^/]+)\/send$/, handler: send },
      ...(queued ? queuedRoutes(queued) : []),
      { method: 'POST', pattern: /^\/publish$/, handler: (req, res, url) => this.publish(req, res, url) },
      ...(deps.routes ?? []),
    ];
  }

  /** The request listener; never throws (a handler's unexpected error is a 500 with the detail in the log). */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.dispatch(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError) && isAborted(req, err)) {
        // One line at debug, no stack: 200 aborted uploads made 200 error lines with stacks.
        this.deps.log.debug({ url: req.url, reason: (err as Error).message }, 'request aborted by the client');
        res.destroy();
        return;
      }
      const error = err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error');
      if (!(err instanceof HttpError)) this.deps.log.error({ err, url: req.url }, 'HTTP handler failed');
      if (res.headersSent) res.destroy();
      else {
        // A body left unread (e.g. after a 413) would stall keep-alive: close the connection with the reply.
        if (!req.complete) res.setHeader('connection', 'close');
        sendError(res, error);
      }
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const matching = this.routes.filter((route) => route.pattern.test(url.pathname));
    if (matching.length === 0) throw new HttpError(404, 'not_found', `no route ${url.pathname}`);
    const route = matching.find((candidate) => candidate.method === req.method);
    if (route === undefined) {
      res.setHeader('allow', matching.map((candidate) => candidate.method).join(', '));
      throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
    }
    if (!isAuthorized(req, url, this.deps.apiKey)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new HttpError(
        401,
        'unauthorized',
        'a valid API key is required (X-API-Key, Authorization: Bearer, or apiKey)',
      );
    }
    const params = decodeParams(route.pattern.exec(url.pathname)!.groups ?? {});
    await route.handler(req, res, url, params);
  }

  /** Each device as it is when its slice is written: the list is long, and devices move meanwhile. */
  private async listDevices(res: ServerResponse, url: URL): Promise<void> {
    const gateway = url.searchParams.get('gateway') ?? undefined;
    await sendJsonList(res, 'devices', this.deps.registry.list(gateway), (device) => this.viewOf(device));
  }

  private getDevice(res: ServerResponse, id: string): void {
    sendJson(res, 200, this.view(id));
  }

  private async send(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    const body = validate(this.sendBody, await readJsonBody(req, this.deps.maxBodyBytes), 'body');
    const device = this.deps.registry.get(id);
    if (device === undefined) throw unknownDevice(id);
    const timeout = body.timeout ?? this.deps.commandTimeoutMs;
    const frame = commandFrameOf(id, body, timeout);
    // The body fits maxBodyBytes, but the frame adds its envelope: past the link's limit the gateway would refuse
    // it and the caller wait the whole timeout for a 504.
    const frameBytes = Buffer.byteLength(encodeFrame(frame));
    if (frameBytes > MAX_FRAME_BYTES) {
      throw new HttpError(
        413,
        'payload_too_large',
        `the command would be a ${frameBytes}-byte frame, over the link's limit of ${MAX_FRAME_BYTES} bytes`,
      );
    }
    if (body.queue === true || ['1', 'true'].includes(url.searchParams.get('queue') ?? '')) {
      if (this.deps.queued === undefined) {
        throw new HttpError(
          501,
          'not_supported',
          'this hub keeps no queued commands; send through a hub with gateway sockets',
        );
      }
      frame.queue = true;
      return this.deps.queued.send(res, device.gateway, frame);
    }
    const outcome = await this.deps.sessions.command(device.gateway, frame, timeout + this.deps.commandGraceMs);
    if (!outcome.ok) throw outcome.error;
    if (!('reply' in outcome)) throw new HttpError(502, 'gateway_error', 'the gateway queued a command sent for now');
    const { code, ct, payload, encoding } = outcome.reply;
    sendJson(res, 200, {
      status: 'ok',
      device: id,
      gateway: device.gateway,
      code,
      ct,
      payload,
      ...(encoding && { encoding }),
    });
  }

  private async publish(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const from = validate(clientName, url.searchParams.get('clientName') ?? undefined, 'clientName');
    const body = validate(publishBody, await readJsonBody(req, this.deps.maxBodyBytes), 'body');
    if (isHubEventName(body.event)) {
      throw new HttpError(403, 'forbidden', `event: '${body.event}' is the hub's own (telemetry, device.*, gateway.*)`);
    }
    this.deps.pubsub.publish(body.event, body.data ?? null, from);
    sendJson(res, 201, { status: 'published', event: body.event });
  }

  /** A device with whether its gateway's link is up right now. */
  private view(id: string): object {
    const device = this.deps.registry.get(id);
    if (device === undefined) throw unknownDevice(id);
    return this.viewOf(device);
  }

  private viewOf(device: HubDevice): object {
    return { ...device, gatewayConnected: this.deps.sessions.isConnected(device.gateway) };
  }
}

export function unknownDevice(id: string): HttpError {
  return new HttpError(404, 'unknown_device', `no device ${JSON.stringify(id)} on any gateway`);
}

function decodeParams(groups: Params): Params {
  const params: Params = {};
  for (const [name, value] of Object.entries(groups)) {
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      throw new HttpError(400, 'bad_request', `${name}: not a valid percent-encoded path segment`);
    }
  }
  return params;
}

function queuedRoutes(queued: QueuedCommandsApi): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/v1\/devices\/(?<id>[^/]+)\/commands$/,
      handler: (_q, res, url, p) => queued.list(res, p.id!, url),
    },
    { method: 'GET', pattern: /^\/v1\/commands\/(?<id>[^/]+)$/, handler: (_q, res, _u, p) => queued.get(res, p.id!) },
    {
      method: 'DELETE',
      pattern: /^\/v1\/commands\/(?<id>[^/]+)$/,
      handler: (_q, res, _u, p) => queued.cancel(res, p.id!),
    },
  ];
}
