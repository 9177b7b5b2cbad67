import { intern } from '../../src/coap/intern.js';
import type { Attrs, Link } from '../../src/coap/link-format.js';
import type { Db, DeviceInfo, WriteBatch } from '../../src/store/index.js';

/** A device as the platform sees it: the gateway's view plus which gateway holds it. */
export interface HubDevice extends DeviceInfo {
  gateway: string;
  /** Since when the hub has seen the device in its current status (ms); null when unknown (before a hub restart). */
  statusSince: number | null;
}

interface DeviceRow {
  id: string;
  gateway: string;
  info: string;
  last_seen: number;
}

/**
 * The union of every gateway's devices, mirrored in memory and persisted so `GET /v1/devices`
 * answers after a hub restart. Writes join the hub's write batch (group commit); telemetry only moves
 * `lastSeen`, written at the next flush().
 */
export class DeviceRegistry {
  private readonly byId = new Map<string, HubDevice>();
  private readonly touched = new Set<string>();
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly deleteGatewayStmt;
  private readonly touchStmt;

  constructor(
    db: Db,
    private readonly writes: WriteBatch,
  ) {
    for (const row of db.prepare('SELECT * FROM devices').all() as DeviceRow[]) {
      const info = JSON.parse(row.info) as DeviceInfo;
      this.byId.set(row.id, { ...info, gateway: row.gateway, lastSeen: row.last_seen, statusSince: null });
    }
    this.upsertStmt = db.prepare(
      `INSERT INTO devices (id, gateway, info, last_seen) VALUES (@id, @gateway, @info, @lastSeen)
       ON CONFLICT (id) DO UPDATE SET gateway = @gateway, info = @info, last_seen = @lastSeen`,
    );
    this.deleteStmt = db.prepare('DELETE FROM devices WHERE id = ?');
    this.deleteGatewayStmt = db.prepare('DELETE FROM devices WHERE gateway = ?');
    this.touchStmt = db.prepare('UPDATE devices SET last_seen = ? WHERE id = ?');
  }

  list(gateway?: string): HubDevice[] {
    const all = [...this.byId.values()];
    return gateway === undefined ? all : all.filter((device) => device.gateway === gateway);
  }

  get(id: string): HubDevice | undefined {
    return this.byId.get(id);
  }

  /** A device event: the gateway's latest view of the device wins. */
  upsert(gateway: string, info: DeviceInfo, previous = this.byId.get(info.id)): HubDevice {
    const device: HubDevice = {
      ...info,
      resources: info.resources.map(shared),
      gateway,
      lastSeen: Math.max(info.lastSeen, previous?.lastSeen ?? 0),
      statusSince: previous?.status === info.status ? previous.statusSince : Date.now(),
    };
    this.byId.set(device.id, device);
    this.touched.delete(device.id);
    this.writes.write(() =>
      this.upsertStmt.run({ id: device.id, gateway, info: JSON.stringify(info), lastSeen: device.lastSeen }),
    );
    return device;
  }

  remove(id: string): void {
    this.byId.delete(id);
    this.touched.delete(id);
    this.writes.write(() => this.deleteStmt.run(id));
  }

  /** A snapshot frame: the gateway's whole device set, replacing what the hub held for it. */
  replaceGateway(gateway: string, devices: readonly DeviceInfo[]): void {
    this.writes.write(() => {
      const previous = new Map(this.list(gateway).map((device) => [device.id, device]));
      for (const id of previous.keys()) this.byId.delete(id);
      this.deleteGatewayStmt.run(gateway);
      for (const info of devices) this.upsert(gateway, info, previous.get(info.id));
    });
  }

  /**
   * A gateway's `refresh` frame: its devices' registrations were refreshed. lastSeen is persisted at the next
   * flush(); the new expiry only in memory, since a hub that restarts gets the gateway's snapshot again on its
   * reconnect. A device another gateway holds, or one not heard of yet, is left alone.
   */
  refresh(
    gateway: string,
    refreshes: readonly { id: string; lastSeen: number; updatedAt: number; expiresAt: number }[],
  ): void {
    for (const { id, lastSeen, updatedAt, expiresAt } of refreshes) {
      const device = this.byId.get(id);
      if (device === undefined || device.gateway !== gateway) continue;
      this.touch(id, lastSeen);
      if (device.registration && updatedAt > device.registration.updatedAt) {
        device.registration = { ...device.registration, updatedAt, expiresAt };
      }
    }
  }

  /** Telemetry from a device proves it alive at `ts`; persisted at the next flush(). */
  touch(id: string, ts: number): void {
    const device = this.byId.get(id);
    if (device === undefined || ts <= device.lastSeen) return;
    device.lastSeen = ts;
    this.touched.add(id);
  }

  /** Writes pending `lastSeen` moves. */
  flush(): void {
    this.writes.write(() => {
      for (const id of this.touched) {
        const device = this.byId.get(id);
        if (device !== undefined) this.touchStmt.run(device.lastSeen, id);
      }
    });
    this.touched.clear();
  }
}

/**
 * A link whose strings are the interned ones: each event frame is parsed into fresh strings, and thousands of devices
 * repeat the same hrefs and attributes (`/sensors/temp`, `rt="temperature"`), about 0.2 KB per device in the hub.
 */
function shared(link: Link): Link {
  const attrs: Attrs = {};
  for (const [name, value] of Object.entries(link.attrs)) attrs[intern(name)] = value === true ? true : intern(value);
  return { href: intern(link.href), attrs };
}
