import { EventEmitter } from 'node:events';
import type { CommandStatusInfo } from './command.js';
import type { DeviceInfo } from './store/types.js';

/** Why a device's registration went away. */
export const REMOVAL_REASONS = ['deleted', 'expired', 'replaced'] as const;
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

/** One decoded value produced by the Observer (docs/design.md, data flow "Telemetry"). */
export interface Telemetry {
  device: string;
  path: string;
  ct: number | null;
  value: unknown;
  /** Present when `value` is the payload's bytes as base64 (no codec for its Content-Format). */
  encoding?: 'base64';
  ts: number;
}

/** Every event the components exchange, by name. Payloads are plain data: safe to serialise as is. */
export interface GatewayEvents {
  'device.registered': { device: DeviceInfo };
  /**
   * `refresh`: the update only refreshed the lifetime (RFC 9176 §5.3.1 without parameters, from the same address):
   * a sign of life, with nothing changed that a lookup, a worker or the platform acts on but lastSeen and expiry.
   */
  'device.updated': { device: DeviceInfo; refresh: boolean };
  'device.removed': { device: DeviceInfo; reason: RemovalReason };
  'device.online': { device: DeviceInfo };
  'device.offline': { device: DeviceInfo };
  /** A sleepy device's awake window ended: reachable again only when it next wakes. */
  'device.asleep': { device: DeviceInfo };
  telemetry: Telemetry;
  /** A queued command moved on (queued, sent, done, failed, expired, cancelled). */
  'command.status': CommandStatusInfo;
}

export type GatewayEventName = keyof GatewayEvents;
export type DeviceEventName = Exclude<GatewayEventName, 'telemetry' | 'command.status'>;
/** Every device event; the platform link's `event` frames carry exactly these names. */
export const DEVICE_EVENTS = [
  'device.registered',
  'device.updated',
  'device.removed',
  'device.online',
  'device.offline',
  'device.asleep',
] as const satisfies readonly DeviceEventName[];

type Listener<K extends GatewayEventName> = (payload: GatewayEvents[K]) => void;

/**
 * The typed bus components talk through (docs/design.md). Synchronous, like EventEmitter:
 * a listener that throws must not break the emitter, so emit() isolates listeners.
 */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (err: unknown, event: string) => void = () => {}) {
    this.emitter.setMaxListeners(0);
  }

  on<K extends GatewayEventName>(event: K, listener: Listener<K>): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit<K extends GatewayEventName>(event: K, payload: GatewayEvents[K]): void {
    for (const listener of this.emitter.listeners(event) as Listener<K>[]) {
      try {
        listener(payload);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }
}
