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

/** Points a series' ring holds at first; it doubles as points arrive, up to its capacity. */
const FIRST_POINTS = 8;

/**
 * Recent points of one numeric series in a ring (two numbers per point), so memory stays bounded. The ring
 * starts small and grows with the points it is given: at full size it takes 16 bytes a point (1.9 KB at the hub's 120), and every
 * observed device's first value made one, most of a hub's memory per device when devices report rarely.
 */
class Ring {
  private data: Float64Array;
  private next = 0;
  private length = 0;

  constructor(private readonly capacity: number) {
    this.data = new Float64Array(Math.min(FIRST_POINTS, capacity) * 2);
  }

  push(ts: number, value: number): void {
    const size = this.data.length / 2;
    if (this.length === size && size < this.capacity) this.grow(Math.min(this.capacity, size * 2));
    const slots = this.data.length / 2;
    this.data[this.next * 2] = ts;
    this.data[this.next * 2 + 1] = value;
    this.next = (this.next + 1) % slots;
    this.length = Math.min(this.length + 1, slots);
  }

  points(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const slots = this.data.length / 2;
    const start = (this.next - this.length + slots) % slots;
    for (let i = 0; i < this.length; i++) {
      const at = ((start + i) % slots) * 2;
      out.push([this.data[at]!, this.data[at + 1]!]);
    }
    return out;
  }

  /** Only ever called when full: the points are copied oldest first and the ring continues after them. */
  private grow(points: number): void {
    const data = new Float64Array(points * 2);
    const start = this.next * 2;
    data.set(this.data.subarray(start), 0);
    data.set(this.data.subarray(0, start), this.data.length - start);
    this.next = this.length;
    this.data = data;
  }
}

interface PathState {
  latest: Omit<TelemetrySeries, 'points' | 'path'>;
  ring: Ring | undefined;
}

interface DeviceState {
  events: HistoryEvent[];
  paths: Map<string, PathState>;
}

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
      for (const path of this.devices.get(id)?.paths.values() ?? []) if (path.ring) this.seriesWithPoints--;
      this.devices.delete(id);
      return;
    }
    const event: HistoryEvent = { event: name, ts: typeof body.ts === 'number' ? body.ts : Date.now() };
    if (typeof device === 'object' && typeof device.status === 'string') event.status = device.status;
    const events = this.state(id).events;
    events.push(event);
    if (events.length > this.limits.eventsPerDevice) events.shift();
  };

  events(id: string): HistoryEvent[] {
    return [...(this.devices.get(id)?.events ?? [])];
  }

  series(id: string): TelemetrySeries[] {
    const paths = this.devices.get(id)?.paths ?? new Map<string, PathState>();
    return [...paths].map(([path, state]) => ({ path, ...state.latest, points: state.ring?.points() ?? [] }));
  }

  private recordTelemetry(body: Record<string, unknown>): void {
    const { device, path, ct, value, encoding, ts } = body;
    if (typeof device !== 'string' || typeof path !== 'string' || typeof ts !== 'number') return;
    const paths = this.state(device).paths;
    let state = paths.get(path);
    if (state === undefined) {
      if (paths.size >= this.limits.pathsPerDevice) return;
      state = { latest: { ct: null, value: null, ts: 0 }, ring: undefined };
      paths.set(path, state);
    }
    state.latest = { ct: typeof ct === 'number' ? ct : null, value, ts, ...(encoding === 'base64' && { encoding }) };
    const number = encoding === undefined ? numericOf(value) : undefined;
    if (number === undefined) return;
    if (state.ring === undefined) {
      if (this.seriesWithPoints >= this.limits.maxSeries) return;
      this.seriesWithPoints++;
      state.ring = new Ring(this.limits.pointsPerSeries);
    }
    state.ring.push(ts, number);
  }

  private state(id: string): DeviceState {
    let state = this.devices.get(id);
    if (state === undefined) {
      state = { events: [], paths: new Map() };
      this.devices.set(id, state);
    }
    return state;
  }
}
