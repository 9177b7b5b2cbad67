import type { DeviceInfo } from '../../src/store/index.js';
import type { CommandFrame, EventFrame, ResultFrame, TelemetryFrame } from '../protocol/index.js';

/** One MQTT PUBLISH the transport makes (always QoS 1, so that a PUBACK tells when it has reached the broker). */
export interface Publish {
  topic: string;
  payload: string;
  retain?: boolean;
  /**
   * The outbox seq this publish completes: once its PUBACK (and those of every publish before it) arrived,
   * everything up to this seq has reached the broker and leaves the outbox.
   */
  upTo?: number;
}

/** What a message the gateway received asks of it. */
export type Inbound =
  | { kind: 'ignore'; why: string }
  | { kind: 'problem'; message: string; reply?: Publish }
  | { kind: 'command'; frame: CommandFrame; reply: (result: ResultFrame) => Publish }
  | { kind: 'commands'; frames: CommandFrame[]; what: string };

/** How the gateway speaks on the broker: ThingsBoard's Gateway API or coregate's own frames. */
export interface Dialect {
  readonly subscriptions: readonly string[];
  /** A run of outbox frames (seq order) as publishes. */
  encode(frames: readonly (EventFrame | TelemetryFrame)[]): Publish[];
  /** What the gateway publishes on every (re)connect, before the outbox resumes. */
  snapshot(devices: readonly DeviceInfo[]): Publish[];
  inbound(topic: string, payload: Buffer): Inbound;
  /** The message the broker publishes for the gateway when its connection dies (MQTT "will"), if any. */
  readonly will?: Publish;
  /** Published right before a clean disconnect, if anything. */
  goodbye?(): Publish | undefined;
}
