import type { DeviceInfo } from '../../src/store/index.js';
import type { GatewayStatus, EventFrame, TelemetryFrame } from '../protocol/index.js';
import type { HubDevice } from './device-registry.js';
import type { GatewayLinkInfo } from './gateway-session.js';
import type { StoredGateway } from './read-api.js';

interface GatewayState {
  online: boolean;
  /** When the gateway last changed state, by its own clock (the status message's ts). */
  since: number;
  lastSeq: number;
  received: number;
  duplicates: number;
}

/**
 * A broker-mode hub's picture of the fleet, held in memory only: devices from the gateways' retained
 * `devices/<id>` messages, gateway liveness from their retained `status`, the last seq seen per gateway so a
 * redelivered upstream frame is told apart. A hub that starts late gets the same picture from the retained
 * messages at once; nothing of it needs a database.
 */
export class BrokerView {
  private readonly devices = new Map<string, HubDevice>();
  private readonly gateways = new Map<string, GatewayState>();

  list(gateway?: string): HubDevice[] {
    const all = [...this.devices.values()];
    return gateway === undefined ? all : all.filter((device) => device.gateway === gateway);
  }

  get(id: string): HubDevice | undefined {
    return this.devices.get(id);
  }

  /** A retained device message: its info, or null when the device is gone. */
  device(gateway: string, id: string, info: DeviceInfo | null): void {
    if (info === null) {
      if (this.devices.get(id)?.gateway === gateway) this.devices.delete(id);
      return;
    }
    const previous = this.devices.get(id);
    const lastSeen = Math.max(info.lastSeen, previous?.lastSeen ?? 0);
    // Unknown for the state found retained at start; from then on, when this hub saw the status change.
    const statusSince =
      previous === undefined ? null : previous.status === info.status ? previous.statusSince : Date.now();
    this.devices.set(id, { ...info, gateway, lastSeen, statusSince });
  }

  /** A gateway's status; returns whether its liveness changed. */
  status(gateway: string, status: GatewayStatus | null): boolean {
    const state = this.stateOf(gateway);
    const online = status?.online ?? false;
    if (status !== null) state.since = status.ts;
    if (state.online === online) return false;
    state.online = online;
    return true;
  }

  /** The frames of an `up` message not seen before (seq above the gateway's last); counts the others. */
  fresh(gateway: string, frames: readonly (EventFrame | TelemetryFrame)[]): (EventFrame | TelemetryFrame)[] {
    const state = this.stateOf(gateway);
    const out: (EventFrame | TelemetryFrame)[] = [];
    for (const frame of frames) {
      state.received++;
      if (frame.seq <= state.lastSeq) {
        state.duplicates++;
        continue;
      }
      state.lastSeq = frame.seq;
      if (frame.type === 'telemetry') this.touch(frame.device, frame.ts);
      out.push(frame);
    }
    return out;
  }

  // ---- what the front's gateway view needs (GatewayLinks, without commands) ----

  isConnected(gateway: string): boolean {
    return this.gateways.get(gateway)?.online ?? false;
  }

  get connectedCount(): number {
    let count = 0;
    for (const state of this.gateways.values()) if (state.online) count++;
    return count;
  }

  lastSeq(gateway: string): number {
    return this.gateways.get(gateway)?.lastSeq ?? 0;
  }

  duplicates(): number {
    let count = 0;
    for (const state of this.gateways.values()) count += state.duplicates;
    return count;
  }

  gatewayIds(): string[] {
    return [...this.gateways.keys()];
  }

  info(): GatewayLinkInfo[] {
    return [...this.gateways.entries()]
      .filter(([, state]) => state.online)
      .map(([id, state]) => ({
        id,
        address: 'broker',
        connected_at: new Date(state.since).toISOString(),
        received: state.received,
        duplicates: state.duplicates,
      }));
  }

  stored(): StoredGateway[] {
    return [...this.gateways.entries()].map(([id, state]) => ({
      id,
      last_seq: state.lastSeq,
      last_connected_at: state.online ? state.since : null,
    }));
  }

  private touch(id: string, ts: number): void {
    const device = this.devices.get(id);
    if (device !== undefined && ts > device.lastSeen) device.lastSeen = ts;
  }

  private stateOf(gateway: string): GatewayState {
    let state = this.gateways.get(gateway);
    if (state === undefined) {
      state = { online: false, since: 0, lastSeq: 0, received: 0, duplicates: 0 };
      this.gateways.set(gateway, state);
    }
    return state;
  }
}
