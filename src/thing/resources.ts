import { formatLinkFormat } from '../coap/link-format.js';
import { ContentFormat, type CoapCode } from '../coap/types.js';
import type { Attrs, Link } from '../coap/link-format.js';

/** A request as a simulated resource sees it (the thing's server has already reassembled Block1). */
export interface ThingRequest {
  method: string;
  query: string[];
  payload: Buffer;
  contentFormat: number | undefined;
  /** Aborted when the thing stops or goes silent: a pending separate response is then dropped. */
  signal: AbortSignal;
}

export interface ThingReply {
  code: CoapCode;
  payload?: Buffer | string;
  contentFormat?: number;
  maxAge?: number;
}

export interface Resource {
  path: string;
  attrs: Attrs;
  /** RFC 7641: GET with Observe=0 registers an observer; it is notified by `ResourceSet.onChange`. */
  observable: boolean;
  handle(request: ThingRequest): ThingReply | Promise<ThingReply>;
}

export const WELL_KNOWN_CORE = '/.well-known/core';

/** Size of `/big`: four 1024-byte blocks, i.e. Block2 (RFC 7959) on every path. */
export const BIG_SIZE = 4096;
/** How long `/slow` takes unless the request asks otherwise with `?ms=N`. */
export const DEFAULT_SLOW_MS = 1000;

const methodNotAllowed: ThingReply = { code: '4.05' };

/** A sensor whose value drifts over time; every change is reported to the listener. */
export class Sensor {
  constructor(
    private current: number,
    private readonly min: number,
    private readonly max: number,
    private readonly onChange: () => void,
  ) {}

  get value(): number {
    return this.current;
  }

  set(value: number): void {
    if (value === this.current) return;
    this.current = value;
    this.onChange();
  }

  /** A random walk step of ±0.1..0.5 kept in range; always a change, so every tick notifies. */
  drift(): void {
    const step = (Math.floor(Math.random() * 5) + 1) / 10;
    const up = this.current + step <= this.max && (this.current - step < this.min || Math.random() < 0.5);
    this.set(Math.round((up ? this.current + step : this.current - step) * 10) / 10);
  }
}

/** The simulated device's resources and their state (one instance per thing). */
export class ResourceSet {
  readonly temperature: Sensor;
  readonly humidity: Sensor;
  ledOn = false;
  big: Buffer = bigPattern(BIG_SIZE);
  readonly resources: Resource[];
  /** RFC 6690 §4: the thing's own resource discovery, filtered by query (§4.1). */
  readonly wellKnownCore: Resource = {
    path: WELL_KNOWN_CORE,
    attrs: {},
    observable: false,
    handle: (req) =>
      readOnly(req, () => ({
        code: '2.05',
        contentFormat: ContentFormat.linkFormat,
        payload: formatLinkFormat(filterLinks(this.links(), req.query)),
      })),
  };

  constructor(onChange: (path: string) => void) {
    this.temperature = new Sensor(21.5, -20, 60, () => onChange('/sensors/temp'));
    this.humidity = new Sensor(45, 0, 100, () => onChange('/sensors/hum'));
    this.resources = [
      {
        path: '/sensors/temp',
        attrs: { rt: 'temperature', if: 'core.s', ct: String(ContentFormat.json), obs: true },
        observable: true,
        handle: (req) => readOnly(req, () => this.temperatureReply()),
      },
      {
        path: '/sensors/hum',
        attrs: { rt: 'humidity', if: 'core.s', ct: String(ContentFormat.senmlJson), obs: true },
        observable: true,
        handle: (req) => readOnly(req, () => this.humidityReply()),
      },
      {
        path: '/actuators/led',
        attrs: { rt: 'light', if: 'core.a', ct: String(ContentFormat.json) },
        observable: false,
        handle: (req) => this.led(req),
      },
      { path: '/slow', attrs: { rt: 'slow', ct: String(ContentFormat.text) }, observable: false, handle: slow },
      {
        path: '/big',
        attrs: { rt: 'big', ct: String(ContentFormat.text), sz: String(BIG_SIZE) },
        observable: false,
        handle: (req) => this.bigResource(req),
      },
    ];
  }

  /** What `/.well-known/core` lists and a full registration carries. */
  links(): Link[] {
    return this.resources.map((r) => ({ href: r.path, attrs: r.attrs }));
  }

  find(path: string): Resource | undefined {
    return this.resources.find((r) => r.path === path);
  }

  temperatureReply(): ThingReply {
    return {
      code: '2.05',
      contentFormat: ContentFormat.json,
      payload: JSON.stringify({ temperature: this.temperature.value, unit: 'Cel' }),
    };
  }

  humidityReply(): ThingReply {
    // RFC 8428 §5: one SenML record per measurement, base name of the device resource.
    const pack = [{ n: 'humidity', u: '%RH', v: this.humidity.value }];
    return { code: '2.05', contentFormat: ContentFormat.senmlJson, payload: JSON.stringify(pack) };
  }

  private led(req: ThingRequest): ThingReply {
    if (req.method === 'GET') {
      return { code: '2.05', contentFormat: ContentFormat.json, payload: JSON.stringify({ on: this.ledOn }) };
    }
    if (req.method !== 'PUT' && req.method !== 'POST') return methodNotAllowed;
    const on = parseLedState(req.payload.toString('utf8'), req.contentFormat);
    if (on === undefined) return { code: '4.00', payload: 'expected {"on":true|false} or on/off' };
    this.ledOn = on;
    return { code: '2.04', contentFormat: ContentFormat.json, payload: JSON.stringify({ on }) };
  }

  private bigResource(req: ThingRequest): ThingReply {
    switch (req.method) {
      case 'GET':
        return { code: '2.05', contentFormat: ContentFormat.text, payload: this.big };
      case 'PUT':
        this.big = Buffer.from(req.payload);
        return {
          code: '2.04',
          contentFormat: ContentFormat.json,
          payload: JSON.stringify({ size: req.payload.length }),
        };
      case 'POST':
        return {
          code: '2.04',
          contentFormat: ContentFormat.json,
          payload: JSON.stringify({ size: req.payload.length }),
        };
      default:
        return methodNotAllowed;
    }
  }
}

function readOnly(req: ThingRequest, reply: () => ThingReply): ThingReply {
  return req.method === 'GET' ? reply() : methodNotAllowed;
}

/** Answers after a delay, so the server first sends an empty ACK and then a separate response (RFC 7252 §5.2.2). */
async function slow(req: ThingRequest): Promise<ThingReply> {
  if (req.method !== 'GET') return methodNotAllowed;
  const asked = req.query.find((q) => q.startsWith('ms='));
  const ms = asked === undefined ? DEFAULT_SLOW_MS : Number(asked.slice(3));
  if (!Number.isFinite(ms) || ms < 0) return { code: '4.00', payload: 'ms must be a number' };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    req.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(req.signal.reason);
    });
  });
  return { code: '2.05', contentFormat: ContentFormat.text, payload: `slow reply after ${ms} ms` };
}

function parseLedState(text: string, contentFormat: number | undefined): boolean | undefined {
  const trimmed = text.trim();
  if (contentFormat === ContentFormat.json || trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { on?: unknown }).on === 'boolean') {
        return (parsed as { on: boolean }).on;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
  if (['on', '1', 'true'].includes(trimmed.toLowerCase())) return true;
  if (['off', '0', 'false'].includes(trimmed.toLowerCase())) return false;
  return undefined;
}

/** Readable, position-revealing content: a corrupted or reordered block shows in a diff. */
function bigPattern(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += 16) {
    out.write(`${offset.toString(16).padStart(6, '0')} big data\n`, offset, 'ascii');
  }
  return out;
}

/** RFC 6690 §4.1: `?name=value` keeps links whose attribute has that value (a trailing `*` matches a prefix). */
function filterLinks(links: Link[], query: string[]): Link[] {
  return links.filter((link) =>
    query.every((item) => {
      const [name = '', pattern = ''] = item.split('=', 2);
      const raw = name === 'href' ? link.href : link.attrs[name];
      if (raw === undefined) return false;
      const values = raw === true ? [''] : raw.split(' ');
      return values.some((v) => (pattern.endsWith('*') ? v.startsWith(pattern.slice(0, -1)) : v === pattern));
    }),
  );
}
