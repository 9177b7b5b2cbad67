import type { PlatformConfig } from '../../src/config.js';
import type { DeviceInfo } from '../../src/store/index.js';
import {
  encodeFrame,
  errorFrameFor,
  parseHubFrame,
  type EventFrame,
  type GatewayFrame,
  statusPayload,
  coregateTopics,
} from '../protocol/index.js';
import type { Dialect, Inbound, Publish, UpstreamFrame } from './publish.js';

/**
 * "coregate over MQTT" (docs/protocol.md "MQTT"): the WebSocket link's frames, unchanged, under
 * `coregate/<gateway id>/...`. Upstream frames keep their seq, so a hub drops a redelivered one as the WebSocket
 * hub does; each device's current info is also a retained message, so a hub that starts late has the whole view.
 */
export class CoregateDialect implements Dialect {
  readonly subscriptions: readonly string[];
  readonly will: Publish;
  private readonly topics;

  constructor(
    gateway: string,
    private readonly config: PlatformConfig,
  ) {
    this.topics = coregateTopics(gateway);
    this.subscriptions = [this.topics.command];
    this.will = this.status(false);
  }

  encode(frames: readonly UpstreamFrame[]): Publish[] {
    const out: Publish[] = [];
    const max = this.config.mqtt.maxBatch;
    for (let start = 0; start < frames.length; start += max) {
      const run = frames.slice(start, start + max);
      const upTo = run[run.length - 1]!.seq;
      const states = run.filter((frame): frame is EventFrame => frame.type === 'event').map((e) => this.state(e));
      // The run's frames first, then the retained states they lead to; the last publish completes the run.
      out.push({ topic: this.topics.up, payload: `[${run.map(encodeFrame).join(',')}]` }, ...states);
      out[out.length - 1]!.upTo = upTo;
    }
    return out;
  }

  snapshot(devices: readonly DeviceInfo[]): Publish[] {
    return [this.status(true), ...devices.map((device) => this.retained(device.id, device))];
  }

  goodbye(): Publish {
    return this.status(false);
  }

  inbound(topic: string, payload: Buffer): Inbound {
    if (topic !== this.topics.command) return { kind: 'ignore', why: `no handler for topic ${topic}` };
    const parsed = parseHubFrame(payload);
    if (!parsed.ok)
      return { kind: 'problem', message: parsed.error.message, reply: this.frame(errorFrameFor(parsed.error)) };
    const frame = parsed.frame;
    if (frame.type !== 'command') {
      const problem = {
        code: 'unexpected_frame' as const,
        message: `"${frame.type}" is not sent over MQTT`,
        ref: frame.type,
      };
      return { kind: 'problem', message: problem.message, reply: this.frame(errorFrameFor(problem)) };
    }
    return { kind: 'command', frame, reply: (result) => this.frame(result) };
  }

  private frame(frame: GatewayFrame): Publish {
    return { topic: this.topics.result, payload: encodeFrame(frame) };
  }

  /**
   * A device without a registration is gone from the directory, whatever event describes it (a liveness event
   * can trail the removal): its retained state is cleared rather than brought back.
   */
  private state(event: EventFrame): Publish {
    const gone = event.name === 'device.removed' || !event.device.registered;
    return this.retained(event.device.id, gone ? undefined : event.device);
  }

  /** An empty retained payload deletes the retained message (MQTT 3.1.1 §3.3.1.3). */
  private retained(id: string, device: DeviceInfo | undefined): Publish {
    return { topic: this.topics.device(id), payload: device ? JSON.stringify(device) : '', retain: true };
  }

  private status(online: boolean): Publish {
    return { topic: this.topics.status, payload: statusPayload(online), retain: true };
  }
}
