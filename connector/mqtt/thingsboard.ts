import { z } from 'zod';
import type { CoapRequestConfig, PlatformConfig } from '../../src/config.js';
import type { DeviceInfo, Registration } from '../../src/store/index.js';
import {
  coapMethods,
  type CommandFrame,
  type EventFrame,
  type ResultFrame,
  thingsboardTopics as topics,
} from '../protocol/index.js';
import type { Dialect, Inbound, Publish, UpstreamFrame } from './publish.js';

/**
 * ThingsBoard's Gateway MQTT API (thingsboard.io/docs/reference/gateway-mqtt-api/): what the gateway publishes
 * for its outbox entries, and what it accepts on `v1/gateway/rpc` and `v1/gateway/attributes`. Every message in
 * is validated here, once; a bad one is logged (and answered when it carries an RPC id), never thrown.
 */

/** What the encoder needs to know of devices beyond the frames: names and the RD's metadata. */
export interface DeviceDirectory {
  nameOf(id: string): string;
  nameOfInfo(device: DeviceInfo): string;
  idOf(name: string): string | undefined;
  registrationOf(id: string): Registration | undefined;
}

/** The largest message accepted from the broker; anything larger is refused unread. */
export const MAX_INBOUND_BYTES = 256 * 1024;

const rpcId = z.union([z.number().int(), z.string().min(1).max(256)]);

/**
 * "Incoming command format: { "device": "Device A", "data": {"id": 1, "method": "toggle_gpio", "params": {"pin": 1}}}"
 * (Gateway API, "RPC": "data.id — Request identifier — must be echoed in the reply").
 */
const rpcRequest = z.object({
  device: z.string().min(1),
  data: z.object({ id: rpcId, method: z.string().min(1), params: z.unknown().optional() }),
});

/** `params` of an RPC whose method is a CoAP method: the hub's send body (docs/api.md "Send a command"). */
const coapParams = z
  .object({
    path: z.string().startsWith('/'),
    query: z.union([z.array(z.string()), z.string()]).optional(),
    payload: z.unknown().optional(),
    ct: z.number().int().min(0).max(65535).optional(),
    accept: z.number().int().min(0).max(65535).optional(),
    encoding: z.literal('base64').optional(),
    timeout: z.number().int().positive().optional(),
  })
  .strict();

/** "Subscribe to attribute updates": `{"device": "Device A", "data": {"attribute1": "value1"}}`. */
const attributeUpdate = z.object({ device: z.string().min(1), data: z.record(z.string(), z.unknown()) });

const isCoapMethod = (method: string): method is CommandFrame['method'] =>
  (coapMethods as readonly string[]).includes(method);

export class ThingsboardDialect implements Dialect {
  readonly subscriptions = [topics.rpc, topics.attributes];

  constructor(
    private readonly config: PlatformConfig,
    private readonly devices: DeviceDirectory,
  ) {}

  /** A run of outbox frames (seq order) as publishes: telemetry batched per publish, each event as its messages. */
  encode(frames: readonly UpstreamFrame[]): Publish[] {
    const out: Publish[] = [];
    let batch: Record<string, { ts: number; values: Record<string, unknown> }[]> | undefined;
    let count = 0;
    let lastSeq = 0;
    const close = (): void => {
      if (batch !== undefined) out.push({ topic: topics.telemetry, payload: JSON.stringify(batch), upTo: lastSeq });
      batch = undefined;
      count = 0;
    };
    for (const frame of frames) {
      if (frame.type === 'command_status') {
        // ThingsBoard's Gateway API has no topic for a queued command's progress: nothing to publish, but its
        // seq is covered by the publish before it (or the next one) so the outbox moves past it.
        if (batch !== undefined) lastSeq = frame.seq;
        else if (out.length > 0) out[out.length - 1]!.upTo = frame.seq;
        continue;
      }
      if (frame.type === 'event') {
        close();
        out.push(...this.event(frame));
        continue;
      }
      batch ??= {};
      const name = this.devices.nameOf(frame.device);
      // "Publish telemetry": {"Device A": [{"ts": 1483228800000, "values": {"temperature": 42, "humidity": 80}}]}
      (batch[name] ??= []).push({ ts: frame.ts, values: { [keyOf(frame.path)]: frame.value } });
      lastSeq = frame.seq;
      if (++count >= this.config.mqtt.maxBatch) close();
    }
    close();
    return out;
  }

  /** On every (re)connect: ThingsBoard drops a gateway's device sessions with it, so each device connects again. */
  snapshot(devices: readonly DeviceInfo[]): Publish[] {
    return devices.filter((device) => device.status === 'online').map((device) => this.connect(device));
  }

  /** A message from the broker: an RPC to run, an attribute update to apply, or something to ignore. */
  inbound(topic: string, payload: Buffer): Inbound {
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return { kind: 'problem', message: `${topic}: not JSON: ${(err as Error).message}` };
    }
    if (topic === topics.rpc) return this.rpc(raw);
    if (topic === topics.attributes) return this.attributes(raw);
    return { kind: 'ignore', why: `no handler for topic ${topic}` };
  }

  private event(frame: EventFrame): Publish[] {
    const { device } = frame;
    const upTo = frame.seq;
    switch (frame.name) {
      case 'device.registered':
      case 'device.online':
        return [this.connect(device), { ...this.attributesOf(device), upTo }];
      case 'device.updated':
      case 'device.offline':
      case 'device.asleep':
        return [{ ...this.attributesOf(device), upTo }];
      case 'device.removed':
        // "Disconnect device": {"device": "Device A"}
        return [
          { topic: topics.disconnect, payload: JSON.stringify({ device: this.devices.nameOfInfo(device) }), upTo },
        ];
    }
  }

  /** "Connect device": {"device": "Device A", "type": "Sensor A"}; the profile is the registration's `et`. */
  private connect(device: DeviceInfo): Publish {
    const name = this.devices.nameOfInfo(device);
    const type = this.devices.registrationOf(device.id)?.et ?? this.config.mqtt.deviceType;
    return { topic: topics.connect, payload: JSON.stringify({ device: name, type }) };
  }

  /** "Publish client-side attributes": {"Device A": {"attribute1": "value1"}}, here the device's RD metadata. */
  private attributesOf(device: DeviceInfo): Publish {
    const reg = this.devices.registrationOf(device.id);
    const attributes = {
      id: device.id,
      ep: device.ep,
      d: device.d,
      et: reg?.et ?? null,
      lt: reg?.lt ?? null,
      address: device.address,
      status: device.status,
      resources: device.resources,
    };
    return { topic: topics.attributes, payload: JSON.stringify({ [this.devices.nameOfInfo(device)]: attributes }) };
  }

  private rpc(raw: unknown): Inbound {
    // Our own replies come back on the same topic from a broker that is not ThingsBoard (MQTT 3.1.1 has no
    // "no local"): a reply has a top-level `id`, a request has none.
    if (isObject(raw) && 'id' in raw) {
      return { kind: 'ignore', why: 'an RPC reply' };
    }
    const parsed = rpcRequest.safeParse(raw);
    if (!parsed.success) {
      const message = `v1/gateway/rpc: ${problems(parsed.error)}`;
      const device = isObject(raw) && typeof raw.device === 'string' ? raw.device : undefined;
      const data = isObject(raw) ? raw.data : undefined;
      const id = isObject(data) ? rpcId.safeParse(data.id) : undefined;
      if (device === undefined || !id?.success) return { kind: 'problem', message };
      return { kind: 'problem', message, reply: this.replyOf(device, id.data, badRequest(message)) };
    }
    const { device: name, data } = parsed.data;
    const fail = (result: ResultFrame): Inbound => ({
      kind: 'problem',
      message: 'error' in result ? result.error.message : '',
      reply: this.replyOf(name, data.id, result),
    });
    const device = this.devices.idOf(name);
    if (device === undefined) {
      return fail({ type: 'result', id: '', error: { code: 'unknown_device', message: `no device named ${name}` } });
    }
    // The runner answers a repeated id from its first execution: keyed by device, since ThingsBoard numbers per device.
    const id = `rpc/${name}/${String(data.id)}`;
    const frame = isCoapMethod(data.method)
      ? this.coapCommand(id, device, data.method, data.params)
      : this.namedCommand(id, device, data.method, data.params);
    if (typeof frame === 'string') return fail(badRequest(frame));
    return { kind: 'command', frame, reply: (result) => this.replyOf(name, data.id, result) };
  }

  private coapCommand(
    id: string,
    device: string,
    method: CommandFrame['method'],
    params: unknown,
  ): CommandFrame | string {
    const parsed = coapParams.safeParse(params ?? {});
    if (!parsed.success) return `params of ${method}: ${problems(parsed.error)}`;
    const p = parsed.data;
    const query = typeof p.query === 'string' ? p.query.replace(/^\?/, '').split('&').filter(Boolean) : p.query;
    return {
      type: 'command',
      id,
      device,
      method,
      path: p.path,
      ...(query !== undefined && { query }),
      ...(p.payload !== undefined && { payload: p.payload }),
      ...(p.ct !== undefined && { ct: p.ct }),
      ...(p.accept !== undefined && { accept: p.accept }),
      ...(p.encoding !== undefined && { encoding: p.encoding }),
      ...(p.timeout !== undefined && { timeout: p.timeout }),
    };
  }

  /** A name from platform.rpc (a ThingsBoard widget's method): its CoAP request, with `params` as the payload. */
  private namedCommand(id: string, device: string, method: string, params: unknown): CommandFrame | string {
    const request = Object.hasOwn(this.config.rpc, method) ? this.config.rpc[method] : undefined;
    if (request === undefined) {
      const known = [...coapMethods, ...Object.keys(this.config.rpc)].join(', ');
      return `unknown RPC method ${JSON.stringify(method)}; expected one of ${known}`;
    }
    return commandOf(id, device, request, params);
  }

  private attributes(raw: unknown): Inbound {
    const parsed = attributeUpdate.safeParse(raw);
    // Our own client-side attributes come back from a broker that is not ThingsBoard: {"<name>": {...}}.
    if (!parsed.success) {
      if (isObject(raw) && !('device' in raw)) return { kind: 'ignore', why: 'client-side attributes' };
      return { kind: 'problem', message: `v1/gateway/attributes: ${problems(parsed.error)}` };
    }
    const { device: name, data } = parsed.data;
    const device = this.devices.idOf(name);
    if (device === undefined) return { kind: 'problem', message: `attribute update for unknown device ${name}` };
    const frames: CommandFrame[] = [];
    for (const [attribute, value] of Object.entries(data)) {
      const request = Object.hasOwn(this.config.sharedAttributes, attribute)
        ? this.config.sharedAttributes[attribute]
        : undefined;
      if (request !== undefined)
        frames.push(commandOf(`attr/${name}/${attribute}/${Date.now()}`, device, request, value));
    }
    if (frames.length === 0)
      return { kind: 'ignore', why: `no attribute of ${Object.keys(data).join(', ')} is mapped` };
    return { kind: 'commands', frames, what: `shared attributes of ${name}` };
  }

  /** "Send RPC Reply": {"device": "Device A", "id": 1, "data": {...}}, to the same topic. */
  private replyOf(device: string, id: number | string, result: ResultFrame): Publish {
    const data =
      'error' in result
        ? { error: result.error }
        : {
            code: result.code,
            ct: result.ct,
            payload: result.payload,
            ...(result.encoding && { encoding: result.encoding }),
          };
    return { topic: topics.rpc, payload: JSON.stringify({ device, id, data }) };
  }
}

function commandOf(id: string, device: string, request: CoapRequestConfig, payload: unknown): CommandFrame {
  return {
    type: 'command',
    id,
    device,
    method: request.method,
    path: request.path,
    ...(request.query !== undefined && { query: request.query }),
    ...(payload !== undefined && { payload }),
    ...(request.ct !== undefined && { ct: request.ct }),
    ...(request.accept !== undefined && { accept: request.accept }),
    ...(request.timeout !== undefined && { timeout: request.timeout }),
  };
}

/** A telemetry key is the resource's path without its leading `/` (`/sensors/temp` → `sensors/temp`). */
export function keyOf(path: string): string {
  return path.startsWith('/') ? path.slice(1) : path;
}

function badRequest(message: string): ResultFrame {
  return { type: 'result', id: '', error: { code: 'bad_request', message } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function problems(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(message)'}: ${issue.message}`).join('; ');
}
