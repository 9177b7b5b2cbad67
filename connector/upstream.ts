import type { Outbox, OutboxEntry } from '../src/store/index.js';
import type { EventFrame, GatewayFrame, TelemetryFrame } from './protocol.js';

/** Most frames sent and not yet acked: bounds the socket's send buffer when the hub is slow. */
export const SEND_WINDOW = 1000;
const PAGE = 500;

type Send = (frame: GatewayFrame) => boolean;

/** What an outbox entry holds: its frame without `type` and `seq` (written once, read back on resend). */
export type EventBody = Omit<EventFrame, 'type' | 'seq' | 'name'>;
export type TelemetryBody = Omit<TelemetryFrame, 'type' | 'seq'>;

/**
 * The upstream half of the link (mqtt.js's in-flight store in use): every event and telemetry value is
 * appended to the durable outbox first, then sent when the link is up and the window has room; the hub's
 * cumulative acks trim the outbox; after a (re)connect everything after the hub's last seq is resent in order.
 */
export class Upstream {
  private send: Send | undefined;
  /** Highest seq sent on the current link. */
  private lastSent = 0;
  /** Highest seq the hub has acked (or said it holds). */
  private acked = 0;
  /** True when every entry in the outbox up to `lastSent` is on the wire: new ones can go straight out. */
  private caughtUp = false;

  constructor(
    private readonly outbox: Outbox,
    private readonly window = SEND_WINDOW,
  ) {}

  event(name: EventFrame['name'], body: EventBody): void {
    this.record(this.outbox.append('event', name, body.device.id, body));
  }

  telemetry(body: TelemetryBody): void {
    this.record(this.outbox.append('telemetry', 'telemetry', body.device, body));
  }

  /** The link is up and the hub holds everything up to `lastSeq`: resend the rest, then go live. */
  attach(send: Send, lastSeq: number): void {
    this.outbox.continueAfter(lastSeq);
    this.outbox.ackUpTo(lastSeq);
    this.send = send;
    this.acked = lastSeq;
    this.lastSent = lastSeq;
    this.caughtUp = false;
    this.pump();
  }

  detach(): void {
    this.send = undefined;
    this.caughtUp = false;
  }

  /** Cumulative ack from the hub. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.outbox.ackUpTo(seq);
    this.acked = seq;
    this.lastSent = Math.max(this.lastSent, seq);
    if (!this.caughtUp) this.pump();
  }

  private record(entry: OutboxEntry): void {
    if (this.send === undefined || !this.caughtUp || entry.seq - this.acked > this.window) {
      this.caughtUp = false;
      return;
    }
    this.transmit(entry);
  }

  /** Sends what is waiting in the outbox, oldest first, as far as the window allows. */
  private pump(): void {
    while (this.send !== undefined) {
      const room = this.window - (this.lastSent - this.acked);
      if (room <= 0) return;
      const page = this.outbox.unacked(this.lastSent, Math.min(room, PAGE));
      if (page.length === 0) {
        this.caughtUp = true;
        return;
      }
      for (const entry of page) if (!this.transmit(entry)) return;
    }
  }

  private transmit(entry: OutboxEntry): boolean {
    if (this.send === undefined || !this.send(frameOf(entry))) return false;
    this.lastSent = entry.seq;
    return true;
  }
}

/** The frame of an entry this class wrote itself. */
function frameOf(entry: OutboxEntry): EventFrame | TelemetryFrame {
  if (entry.kind === 'telemetry') return { type: 'telemetry', seq: entry.seq, ...(entry.body as TelemetryBody) };
  return { type: 'event', seq: entry.seq, name: entry.name as EventFrame['name'], ...(entry.body as EventBody) };
}
