import type { Logger } from '../src/log.js';
import type { DeviceInfo, Outbox, OutboxEntry, Store } from '../src/store/index.js';
import {
  MAX_REFRESHES_PER_FRAME,
  type CommandStatusFrame,
  type EventFrame,
  type GatewayFrame,
  type RefreshFrame,
  type TelemetryFrame,
} from './protocol/index.js';

/** Most frames sent and not yet acked: bounds the socket's send buffer when the hub is slow. */
export const SEND_WINDOW = 1000;
const PAGE = 500;
const FLUSH_RETRY_MS = 1000;

type Send = (frame: GatewayFrame) => boolean;
type Pending = Parameters<Outbox['append']>;

/** What an outbox entry holds: its frame without `type` and `seq` (written once, read back on resend). */
export type EventBody = Omit<EventFrame, 'type' | 'seq' | 'name'>;
export type TelemetryBody = Omit<TelemetryFrame, 'type' | 'seq'>;
export type CommandStatusBody = Omit<CommandStatusFrame, 'type' | 'seq'>;

/**
 * The upstream half of the link (mqtt.js's in-flight store in use): every event and telemetry value is
 * appended to the durable outbox first, then sent once its write is on disk, when the link is up and the window
 * has room; the hub's cumulative acks trim the outbox; after a (re)connect everything after the hub's last seq
 * is resent in order. An entry reaches the hub only after its commit: sent before, a crash would hand its seq
 * out again to another entry, which the hub would drop as a duplicate.
 */
export class Upstream {
  private send: Send | undefined;
  /** Highest seq sent on the current link. */
  private lastSent = 0;
  /** Highest seq the hub has acked (or said it holds). */
  private acked = 0;
  /** Highest seq deleted from the outbox: trimming trails `acked` by at most one turn. */
  private trimmed = 0;
  /** True when every entry in the outbox up to `lastSent` is on the wire: new ones can go straight out. */
  private caughtUp = false;
  /** Highest seq known to be on disk: nothing above it is sent. */
  private durableSeq: number;

  /** Produced this turn of the event loop, appended together in one transaction at its end. */
  private pending: Pending[] = [];
  /**
   * Lifetime refreshes not yet sent, the newest per device: state, not history, so they skip the outbox and go
   * out as `refresh` frames once the link has sent every event before them. While the link is down they wait
   * here (one entry per device at most); the snapshot on reconnect already carries what they say.
   */
  private readonly refreshes = new Map<string, RefreshFrame['devices'][number]>();
  private flushScheduled: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly outbox: Outbox;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly window = SEND_WINDOW,
  ) {
    this.outbox = store.outbox;
    this.durableSeq = this.outbox.lastSeq();
  }

  event(name: EventFrame['name'], body: EventBody): void {
    this.enqueue(['event', name, body.device.id, body]);
  }

  /** A registration's lifetime was refreshed (nothing else changed). */
  refresh(device: DeviceInfo): void {
    if (!device.registration) return;
    const { updatedAt, expiresAt } = device.registration;
    this.refreshes.set(device.id, { id: device.id, lastSeen: device.lastSeen, updatedAt, expiresAt });
    this.scheduleFlush();
  }

  telemetry(body: TelemetryBody): void {
    this.enqueue(['telemetry', 'telemetry', body.device, body]);
  }

  commandStatus(body: CommandStatusBody): void {
    this.enqueue(['command', 'command_status', body.device, body]);
  }

  /**
   * Appends everything produced so far to the store's open batch (one group commit for the whole gateway, see
   * docs/architecture.md), then sends what the window allows once that batch is on disk.
   */
  flush(): void {
    clearImmediate(this.flushScheduled);
    clearTimeout(this.retryTimer);
    this.flushScheduled = this.retryTimer = undefined;
    const entries = this.append();
    const last = entries?.at(-1)?.seq;
    if (entries === undefined || (last === undefined && this.refreshes.size === 0)) return;
    this.whenDurable(last ?? this.durableSeq, () => {
      for (const entry of entries) this.record(entry);
      this.sendRefreshes();
    });
  }

  /** Writes the pending entries and the acked trim in one change; undefined when it failed (a retry is set). */
  private append(): OutboxEntry[] | undefined {
    if (this.pending.length === 0 && this.trimmed === this.acked) return [];
    const acked = this.acked;
    let entries: OutboxEntry[];
    try {
      entries = this.store.write(() => {
        if (this.trimmed < acked) this.outbox.ackUpTo(acked);
        return this.pending.map((args) => this.outbox.append(...args));
      });
    } catch (err) {
      // Nothing of the batch landed (one transaction): keep it in memory and try again, rather than lose it.
      this.log.error({ err, waiting: this.pending.length }, 'cannot write the outbox; retrying in 1 s');
      this.retryTimer = setTimeout(() => this.flush(), FLUSH_RETRY_MS);
      return undefined;
    }
    this.trimmed = acked;
    this.pending = [];
    return entries;
  }

  /** Writes what is pending (the connector is stopping); no timer is left behind. */
  close(): void {
    this.flush();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** The link is up and the hub holds everything up to `lastSeq`: resend the rest, then go live. */
  attach(send: Send, lastSeq: number): void {
    this.flush();
    this.outbox.continueAfter(lastSeq);
    this.outbox.ackUpTo(lastSeq);
    this.send = send;
    this.acked = lastSeq;
    this.trimmed = lastSeq;
    this.lastSent = lastSeq;
    this.caughtUp = false;
    this.pump();
    // continueAfter may have renumbered the waiting entries: they go out once that is on disk.
    this.whenDurable(this.outbox.lastSeq(), () => this.pump());
  }

  detach(): void {
    this.send = undefined;
    this.caughtUp = false;
  }

  /** Cumulative ack from the hub; the outbox is trimmed with the turn's appends, in the same transaction. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    this.lastSent = Math.max(this.lastSent, seq);
    this.scheduleFlush();
    if (!this.caughtUp) this.pump();
  }

  private enqueue(entry: Pending): void {
    this.pending.push(entry);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    // While a write failed, the retry timer paces the attempts (and the log lines).
    if (this.retryTimer === undefined) this.flushScheduled ??= setImmediate(() => this.flush());
  }

  /** Runs `then` once everything up to `seq` is on disk; a batch lost to a failed commit is logged. */
  private whenDurable(seq: number, then: () => void): void {
    this.store.durable().then(
      () => {
        this.durableSeq = Math.max(this.durableSeq, seq);
        // Behind (window full, link just up): the outbox is read from where the link stands.
        if (this.caughtUp) then();
        else this.pump();
      },
      (err: unknown) => this.log.error({ err, seq }, 'outbox entries lost with a failed commit'),
    );
  }

  private record(entry: OutboxEntry): void {
    if (this.send === undefined || !this.caughtUp || entry.seq - this.acked > this.window) {
      this.caughtUp = false;
      return;
    }
    this.transmit(entry);
  }

  /** Sends what is waiting in the outbox and on disk, oldest first, as far as the window allows. */
  private pump(): void {
    while (this.send !== undefined) {
      const room = this.window - (this.lastSent - this.acked);
      if (room <= 0) return;
      const page = this.outbox.unacked(this.lastSent, Math.min(room, PAGE));
      const onDisk = page.filter((entry) => entry.seq <= this.durableSeq);
      if (onDisk.length === 0) {
        // Everything on disk is on the wire; newer entries go out as their commit completes (whenDurable).
        this.caughtUp = true;
        this.sendRefreshes();
        return;
      }
      for (const entry of onDisk) if (!this.transmit(entry)) return;
    }
  }

  /** Refreshes go out only behind every event before them, so the hub never applies one to a device it has yet to hear of. */
  private sendRefreshes(): void {
    if (this.send === undefined || !this.caughtUp || this.refreshes.size === 0) return;
    const devices = [...this.refreshes.values()];
    this.refreshes.clear();
    for (let from = 0; from < devices.length; from += MAX_REFRESHES_PER_FRAME) {
      // A link that fails this send has lost them; the snapshot on the next connect says the same.
      this.send({ type: 'refresh', devices: devices.slice(from, from + MAX_REFRESHES_PER_FRAME) });
    }
  }

  private transmit(entry: OutboxEntry): boolean {
    if (this.send === undefined || !this.send(frameOf(entry))) return false;
    this.lastSent = entry.seq;
    return true;
  }
}

/** The frame of an entry this class wrote itself. */
function frameOf(entry: OutboxEntry): EventFrame | TelemetryFrame | CommandStatusFrame {
  if (entry.kind === 'telemetry') return { type: 'telemetry', seq: entry.seq, ...(entry.body as TelemetryBody) };
  if (entry.kind === 'command') return { type: 'command_status', seq: entry.seq, ...(entry.body as CommandStatusBody) };
  return { type: 'event', seq: entry.seq, name: entry.name as EventFrame['name'], ...(entry.body as EventBody) };
}
