import { randomInt } from 'node:crypto';
import dgram, { type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { generate, parse, type ParsedPacket } from 'coap-packet';

/**
 * A raw-UDP CoAP load generator: many source sockets, a window of outstanding CON requests on each,
 * latency from send to the matching ACK. No retransmission: a request unanswered within `timeoutMs`
 * counts as lost and frees its slot, so the figures are the server's, not a client's retry policy.
 * Paced (`ratePerSecond`), latency runs from the time the schedule meant the request to leave, so a
 * server that stalls the generator's window is charged for the wait (no coordinated omission), and a
 * lost request counts in the percentiles as slower than any answered one.
 */

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string[];
  query?: string[];
  payload?: Buffer | string;
  contentFormat?: number;
}

const TOKEN_BYTES = 4;
const TOKEN_OFFSET = 4;

/** A CON request with a 4-byte token; the generator writes message id and token into a copy per send. */
export function encodeRequest(spec: RequestSpec): Buffer {
  const options = [
    ...spec.path.map((segment) => ({ name: 'Uri-Path' as const, value: Buffer.from(segment) })),
    ...(spec.contentFormat === undefined ? [] : [{ name: 'Content-Format' as const, value: uint(spec.contentFormat) }]),
    ...(spec.query ?? []).map((item) => ({ name: 'Uri-Query' as const, value: Buffer.from(item) })),
  ];
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : spec.payload;
  return generate(
    { confirmable: true, code: spec.method, messageId: 0, token: Buffer.alloc(TOKEN_BYTES), options, payload },
    65507,
  );
}

const uint = (value: number): Buffer =>
  value === 0 ? Buffer.alloc(0) : value < 256 ? Buffer.from([value]) : Buffer.from([value >> 8, value & 0xff]);

export interface LoadOptions {
  host: string;
  port: number;
  /** Source sockets (ports) the load comes from, opened for this run … */
  sockets?: number;
  /** … or kept across runs, so a later phase speaks from the ports an earlier one used (closed by their owner). */
  sources?: SourcePorts;
  /**
   * Request `index` always leaves from source `index % sockets` (each socket sends its own stripe of the
   * indices): with `sources`, endpoint i then updates from the port it registered from, as a device does.
   */
  pinned?: boolean;
  /** Outstanding requests per socket at most. */
  window?: number;
  /** Stop after this many requests … */
  total?: number;
  /** … or after this long, whichever comes first. */
  durationMs?: number;
  /** Offered load; unset sends as fast as replies free window slots (closed loop). */
  ratePerSecond?: number;
  timeoutMs?: number;
  /** The encoded request number `index` (from `encodeRequest`; it is copied, never modified). */
  request: (index: number) => Buffer;
  /** Sees each reply, e.g. to collect Location-Path of registrations. */
  onReply?: (index: number, reply: ParsedPacket) => void;
}

export interface LoadResult {
  sent: number;
  answered: number;
  lost: number;
  /** Replies by response code, e.g. `{ '2.05': 9990, '5.03': 10 }`. */
  codes: Record<string, number>;
  seconds: number;
  /** Answered requests per second. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Latency histogram in 10 µs buckets up to 2 s: fixed memory whatever the request count. */
class Histogram {
  private readonly buckets = new Uint32Array(200_000);
  private count = 0;
  private max = 0;

  record(ms: number): void {
    this.buckets[Math.min(this.buckets.length - 1, Math.floor(ms * 100))]! += 1;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  percentile(p: number): number {
    const rank = Math.ceil(this.count * p);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank && seen > 0) return (i + 1) / 100;
    }
    return 0;
  }

  get maxMs(): number {
    return this.max;
  }
}

/** Source sockets opened once and shared by several runs. */
export class SourcePorts {
  /** Tokens go on from run to run, so a late reply to an earlier run never matches. */
  nextToken = randomInt(0x7fffffff);
  /** Each port's next message id, going on from run to run (see MessageIds). */
  readonly messageIds: MessageIds;

  private constructor(readonly sockets: Socket[]) {
    this.messageIds = new MessageIds(sockets.length);
  }

  static async open(host: string, count: number): Promise<SourcePorts> {
    return new SourcePorts(await Promise.all(Array.from({ length: count }, () => openSource(host))));
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

async function openSource(host: string): Promise<Socket> {
  const family = host.includes(':') ? 6 : 4;
  // The host is a literal: no dns.lookup (a regex and a tick) per request on the generator's side either.
  const socket = dgram.createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    lookup: (address, _options, callback) => callback(null, address, family),
  });
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  return socket;
}

/**
 * A message id counter per source port: a port must not reuse a message id within EXCHANGE_LIFETIME (247 s,
 * RFC 7252 §4.4), or the server's deduplication rightly answers it with its reply to the earlier request. One
 * counter shared by all ports wrapped after 65,536 requests in all, and every request past that was lost.
 */
export class MessageIds {
  private readonly next: Uint16Array;

  constructor(ports: number) {
    this.next = Uint16Array.from({ length: ports }, () => randomInt(0x10000));
  }

  take(port: number): number {
    return this.next[port]!++;
  }
}

interface InFlight {
  index: number;
  sentAt: number;
  /** When the schedule meant it to leave (paced), else when it left. */
  dueAt: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const socketCount = options.sources?.sockets.length ?? options.sockets ?? 32;
  const window = options.window ?? 16;
  const total = options.total ?? Number.POSITIVE_INFINITY;
  const durationMs = options.durationMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const histogram = new Histogram();
  const codes: Record<string, number> = {};
  const inFlight = Array.from({ length: socketCount }, () => new Map<number, InFlight>());
  let sent = 0;
  let answered = 0;
  let lost = 0;
  // Replies to an earlier run may still arrive on a reused port: tokens start somewhere else each run.
  let nextToken = options.sources?.nextToken ?? randomInt(0x7fffffff);
  const messageIds = options.sources?.messageIds ?? new MessageIds(socketCount);
  const started = performance.now();
  let stopSending = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const outstanding = (): number => inFlight.reduce((sum, map) => sum + map.size, 0);

  const sockets: Socket[] =
    options.sources?.sockets ??
    (await Promise.all(Array.from({ length: socketCount }, () => openSource(options.host))));
  const listeners = sockets.map((socket, s) => {
    const listener = (data: Buffer): void => onReply(s, data);
    socket.on('message', listener);
    return listener;
  });
  /** Requests each socket has sent (pinned: socket s sends indices s, s + sockets, s + 2 × sockets, …). */
  const sentOn = new Array<number>(socketCount).fill(0);

  const allowance = (): number => {
    if (options.ratePerSecond === undefined) return Number.POSITIVE_INFINITY;
    return Math.floor(((performance.now() - started) / 1000) * options.ratePerSecond) - sent;
  };

  function sendOn(s: number): boolean {
    if (stopSending || sent >= total || allowance() <= 0) return false;
    const map = inFlight[s]!;
    if (map.size >= window) return false;
    const index = options.pinned ? sentOn[s]! * socketCount + s : sent;
    if (index >= total) return false;
    const nth = sent++;
    sentOn[s]!++;
    const datagram = Buffer.from(options.request(index));
    const token = nextToken++ >>> 0;
    datagram.writeUInt16BE(messageIds.take(s), 2);
    datagram.writeUInt32BE(token, TOKEN_OFFSET);
    const sentAt = performance.now();
    const dueAt = options.ratePerSecond === undefined ? sentAt : started + (nth * 1000) / options.ratePerSecond;
    map.set(token, { index, sentAt, dueAt });
    sockets[s]!.send(datagram, options.port, options.host);
    return true;
  }

  function fill(): void {
    for (let progress = true; progress;) {
      progress = false;
      for (let s = 0; s < socketCount; s++) progress = sendOn(s) || progress;
    }
    if ((stopSending || sent >= total) && outstanding() === 0) finish();
  }

  function onReply(s: number, data: Buffer): void {
    if (data.length < TOKEN_OFFSET + TOKEN_BYTES || (data[0]! & 0x0f) !== TOKEN_BYTES) return;
    const token = data.readUInt32BE(TOKEN_OFFSET);
    const entry = inFlight[s]!.get(token);
    if (entry === undefined) return;
    inFlight[s]!.delete(token);
    histogram.record(performance.now() - entry.dueAt);
    answered++;
    const code = `${data[1]! >> 5}.${String(data[1]! & 0x1f).padStart(2, '0')}`;
    codes[code] = (codes[code] ?? 0) + 1;
    if (options.onReply) options.onReply(entry.index, parse(data));
    sendOn(s);
    if ((stopSending || sent >= total) && outstanding() === 0) finish();
  }

  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - started >= durationMs) stopSending = true;
    for (const map of inFlight) {
      for (const [token, entry] of map) {
        if (now - entry.sentAt < timeoutMs) break;
        map.delete(token);
        lost++;
        histogram.record(Number.POSITIVE_INFINITY);
      }
    }
    fill();
  }, 2);
  fill();
  await finished;
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  if (options.sources) {
    sockets.forEach((socket, s) => socket.removeListener('message', listeners[s]!));
    options.sources.nextToken = nextToken;
  } else await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return {
    sent,
    answered,
    lost,
    codes,
    seconds,
    perSecond: answered / seconds,
    p50Ms: histogram.percentile(0.5),
    p99Ms: histogram.percentile(0.99),
    maxMs: histogram.maxMs,
  };
}
