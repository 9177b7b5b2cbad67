import type { DeviceRegistry } from './device-registry.js';
import type { GatewaySessions } from './gateway-sessions.js';
import type { DeviceHistory } from './history.js';
import { unknownDevice, type Route } from './http-api.js';
import { sendJson } from './http-io.js';
import type { WebhookStats } from './webhooks.js';

/** What a hub remembers of a gateway beyond its live link (the WebSocket hub: its `gateways` table). */
export interface StoredGateway {
  id: string;
  last_seq: number;
  last_connected_at: number | null;
}

export interface ReadApiDeps {
  storedGateways: () => StoredGateway[];
  registry: Pick<DeviceRegistry, 'list' | 'get'>;
  sessions: Pick<GatewaySessions, 'info' | 'lastSeq'>;
  history: DeviceHistory;
  /** Gateway ids allowed to connect (configured, plus the embedded hub's own gateway). */
  knownGateways: () => Iterable<string>;
  webhooks: () => WebhookStats[];
}

/** A gateway as `GET /v1/gateways` shows it (docs/api.md "Gateways"). */
export interface GatewayView {
  id: string;
  connected: boolean;
  address: string | null;
  /** Since when the link is up (connected) or down (not connected), ms since the epoch; null when never seen. */
  since: number | null;
  lastSeq: number;
  devices: number;
  /** Upstream frames on the current link, and those dropped as resends. */
  received: number;
  duplicates: number;
}

/**
 * Read routes beyond the platform's device routes, so the dashboard (and anyone) can show what the hub knows:
 * its gateways and their links, a device's recent history, and the webhook targets with their counts.
 */
export class ReadApi {
  /** When each gateway's link last went down while this hub ran. */
  private readonly disconnectedAt = new Map<string, number>();
  constructor(private readonly deps: ReadApiDeps) {}

  /** For the pub/sub's publish listener: notes when links go down. */
  record = (name: string, data: unknown): void => {
    if (name !== 'gateway.disconnected') return;
    const gateway = (data as { gateway?: unknown }).gateway;
    if (typeof gateway === 'string') this.disconnectedAt.set(gateway, Date.now());
  };

  routes(): Route[] {
    return [
      {
        method: 'GET',
        pattern: /^\/v1\/gateways$/,
        handler: (_req, res) => sendJson(res, 200, { gateways: this.gateways() }),
      },
      {
        method: 'GET',
        pattern: /^\/v1\/devices\/(?<id>[^/]+)\/history$/,
        handler: (_req, res, _url, params) => sendJson(res, 200, this.history(params.id!)),
      },
      {
        method: 'GET',
        pattern: /^\/v1\/webhooks$/,
        handler: (_req, res) => sendJson(res, 200, { webhooks: this.deps.webhooks() }),
      },
    ];
  }

  gateways(): GatewayView[] {
    const { sessions, registry } = this.deps;
    const rows = new Map(this.deps.storedGateways().map((row) => [row.id, row]));
    const live = new Map(sessions.info().map((link) => [link.id, link]));
    const ids = new Set([...this.deps.knownGateways(), ...rows.keys(), ...live.keys()]);
    const devices = new Map<string, number>();
    for (const device of registry.list()) devices.set(device.gateway, (devices.get(device.gateway) ?? 0) + 1);
    return [...ids].sort().map((id) => {
      const link = live.get(id);
      const row = rows.get(id);
      return {
        id,
        connected: link !== undefined,
        address: link?.address ?? null,
        since: link ? Date.parse(link.connected_at) : (this.disconnectedAt.get(id) ?? row?.last_connected_at ?? null),
        lastSeq: sessions.lastSeq(id),
        devices: devices.get(id) ?? 0,
        received: link?.received ?? 0,
        duplicates: link?.duplicates ?? 0,
      };
    });
  }

  private history(id: string): object {
    const device = this.deps.registry.get(id);
    if (device === undefined) throw unknownDevice(id);
    return { device: id, events: this.deps.history.events(id), telemetry: this.deps.history.series(id) };
  }
}
