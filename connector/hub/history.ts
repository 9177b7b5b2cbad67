import { intern } from '../../src/coap/intern.js';

/** One device event as GET /v1/devices/:id/history shows it. */
export interface HistoryEvent {
  event: string;
  ts: number;
  status?: string;
  reason?: string;
}

/** The latest value of one telemetry path, and its recent numeric points for a chart. */
export interface TelemetrySeries {
  path: string;
  ct: number | null;
  value: unknown;
  encoding?: 'base64';
  ts: number;
  /** `[ts, value]` pairs, oldest first, numeric values only, at most `maxPoints`. */
  points: Array<[number, number]>;
}

export interface HistoryLimits {
  eventsPerDevice: number;
  pointsPerSeries: number;
  pathsPerDevice: number;
  /** Series with points, over all devices; beyond it a new series keeps its latest value only (bounds memory). */
  maxSeries: number;
}

/**
 * One telemetry path of a device: its latest value and its recent numeric points, in a ring of `[ts, value]` pairs
 * that starts at one point and doubles as points arrive, up to its capacity. The ring is a plain array of doubles
 * (V8 keeps them unboxed, 8 bytes each): a Float64Array costs ~330 bytes before its first point (the typed array, its
 * ArrayBuffer and the buffer's own allocation), and every observed device had one, most of a hub's memory per device
 * when devices report rarely.
 */
class Series {
  ct: number | null = null;
  value: unknown = null;
  encoding: 'base64' | undefined = undefined;
  ts = 0;
  private data: number[] | undefined;
  private next = 0;
  private length = 0;

  constructor(readonly path: string) {}

  get charted(): boolean {
    return this.data !== undefined;
  }

  latest(ct: number | null, value: unknown, encoding: 'base64' | undefined, ts: number): void {
    this.ct = ct;
    this.value = value;
    this.encoding = encoding;
    this.ts = ts;
  }

  push(ts: number, value: number, capacity: number): void {
    if (this.data === undefined) this.data = [0, 0];
    else if (this.length === this.data.length / 2 && this.length < capacity)
      this.grow(Math.min(capacity, this.length * 2));
    const slots = this.data.length / 2;
    this.data[this.next * 2] = ts;
    this.data[this.next * 2 + 1] = value;
    this.next = (this.next + 1) % slots;
    this.length = Math.min(this.length + 1, slots);
  }

  view(): TelemetrySeries {
    const { path, ct, value, encoding, ts } = this;
    return { path, ct, value, ...(encoding && { encoding }), ts, points: this.points() };
  }

  private points(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (this.data === undefined) return out;
    const slots = this.data.length / 2;
    const start = (this.next - this.length + slots) % slots;
    for (let i = 0; i < this.length; i++) {
      const at = ((start + i) % slots) * 2;
      out.push([this.data[at]!, this.data[at + 1]!]);
    }
    return out;
  }

  /** Only ever called when full: the points are copied oldest first (from `next`) and the ring continues after them. */
  private grow(points: number): void {
    const old = this.data!;
    const data = new Array<number>(points * 2).fill(0);
    const start = this.next * 2;
    for (let i = 0; i < old.length; i++) data[i] = old[(start + i) % old.length]!;
    this.next = this.length;
    this.data = data;
  }
}

/**
 * A device's recent events (oldest first) and telemetry paths, in arrays of exactly their length, replaced on change
 * (`concat`; a pushed or spread array reserves 17 or more slots, ~150 bytes, where devices mostly have one or two).
 */
interface DeviceState {
  events: readonly HistoryEvent[];
  paths: readonly Series[];
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * A number to chart: a JSON number, the first numeric field of an object (`{"value": 21.5}`), or the value of the
 * first SenML record that has one (RFC 8428 §4.2: `v`).
 */
function numericOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value)) {
    const record = value.find((r): r is { v: number } => typeof (r as { v?: unknown } | null)?.v === 'number');
    return record !== undefined && Number.isFinite(record.v) ? record.v : undefined;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const field of Object.values(value)) if (typeof field === 'number' && Number.isFinite(field)) return field;
  }
  return undefined;
}

/**
 * What the hub has seen of each device since it started: its last device events and, per telemetry path, the
 * latest value and the recent numeric points. Memory only, bounded per device; fed by every published event.
 */
export class DeviceHistory {
  private readonly devices = new Map<string, DeviceState>();
  private seriesWithPoints = 0;

  constructor(private readonly limits: HistoryLimits) {}

  /** For the pub/sub's publish listener: device events and telemetry, as the hub publishes them. */
  record = (name: string, data: unknown): void => {
    if (typeof data !== 'object' || data === null) return;
    const body = data as Record<string, unknown>;
    if (name.startsWith('telemetry/')) return this.recordTelemetry(body);
    if (!name.startsWith('device.')) return;
    const device = body.device as { id?: unknown; status?: unknown } | string | undefined;
    const id = typeof device === 'string' ? device : device?.id;
    if (typeof id !== 'string') return;
    if (name === 'device.removed') {
      for (const series of this.devices.get(id)?.paths ?? NONE) if (series.charted) this.seriesWithPoints--;
      this.devices.delete(id);
      return;
    }
    const status = typeof device === 'object' && typeof device.status === 'string' ? device.status : undefined;
    // One shape for every event (status set or undefined, which JSON leaves out) and the name's one shared copy.
    const event: HistoryEvent = { event: intern(name), ts: typeof body.ts === 'number' ? body.ts : Date.now(), status };
    const state = this.state(id);
    const kept = state.events.length < this.limits.eventsPerDevice ? state.events : state.events.slice(1);
    state.events = kept.concat([event]);
  };

  events(id: string): HistoryEvent[] {
    return [...(this.devices.get(id)?.events ?? NONE)];
  }

  series(id: string): TelemetrySeries[] {
    return (this.devices.get(id)?.paths ?? NONE).map((series) => series.view());
  }

  private recordTelemetry(body: Record<string, unknown>): void {
    const { device, path, ct, value, encoding, ts } = body;
    if (typeof device !== 'string' || typeof path !== 'string' || typeof ts !== 'number') return;
    const state = this.state(device);
    let series = state.paths.find((known) => known.path === path);
    if (series === undefined) {
      if (state.paths.length >= this.limits.pathsPerDevice) return;
      series = new Series(intern(path));
      state.paths = state.paths.concat([series]);
    }
    series.latest(typeof ct === 'number' ? ct : null, value, encoding === 'base64' ? encoding : undefined, ts);
    const number = encoding === undefined ? numericOf(value) : undefined;
    if (number === undefined) return;
    if (!series.charted) {
      if (this.seriesWithPoints >= this.limits.maxSeries) return;
      this.seriesWithPoints++;
    }
    series.push(ts, number, this.limits.pointsPerSeries);
  }

  private state(id: string): DeviceState {
    let state = this.devices.get(id);
    if (state === undefined) {
      state = { events: NONE, paths: NONE };
      this.devices.set(id, state);
    }
    return state;
  }
}
