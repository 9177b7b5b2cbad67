import type { Db, DeviceInfo, WriteBatch } from '../../src/store/index.js';
import { intern } from '../../src/coap/intern.js';
import { sharedAttrs, SharedLinks } from '../../src/coap/shared-links.js';

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
 * The union of every gateway's devices, mirrored in memory and persisted so `GET /v1/devices` answers after a hub
 * restart. Device events and telemetry's `lastSeen` moves are written at the next flush(), which the hub runs before
 * every commit an ack follows (docs/architecture.md "How a write becomes durable"): a device moved by several events
 * of one turn is written once, and no event pays a savepoint of its own. A snapshot and a removal join the write
 * batch at once.
 */
export class DeviceRegistry {
  private readonly byId = new Map<string, HubDevice>();
  /** Devices whose event is not written yet. */
  private readonly dirty = new Set<string>();
  /** Devices whose `lastSeen` alone moved since it was written. */
  private readonly touched = new Set<string>();
  private readonly links = new SharedLinks();
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
      this.byId.set(row.id, this.record(row.gateway, { ...info, lastSeen: row.last_seen }, undefined, null));
    }
    this.upsertStmt = db.prepare(
      `INSERT INTO devices (id, gateway, info, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET gateway = excluded.gateway, info = excluded.info, last_seen = excluded.last_seen`,
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

  /** A device event: the gateway's latest view of the device wins; written at the next flush(). */
  upsert(gateway: string, info: DeviceInfo): HubDevice {
    const device = this.record(gateway, info, this.byId.get(info.id), Date.now());
    this.byId.set(device.id, device);
    this.touched.delete(device.id);
    this.dirty.add(device.id);
    return device;
  }

  remove(id: string): void {
    this.byId.delete(id);
    this.touched.delete(id);
    this.dirty.delete(id);
    this.writes.write(() => this.deleteStmt.run(id));
  }

  /** A snapshot frame: the gateway's whole device set, replacing what the hub held for it, in one change. */
  replaceGateway(gateway: string, devices: readonly DeviceInfo[]): void {
    this.writes.write(() => {
      const previous = new Map(this.list(gateway).map((device) => [device.id, device]));
      for (const id of previous.keys()) this.byId.delete(id);
      this.deleteGatewayStmt.run(gateway);
      const now = Date.now();
      for (const info of devices) {
        const device = this.record(gateway, info, previous.get(info.id), now);
        this.byId.set(device.id, device);
        this.touched.delete(device.id);
        this.dirty.delete(device.id);
        this.save(device);
      }
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
    if (!this.dirty.has(id)) this.touched.add(id);
  }

  /** Writes the devices moved since the last flush into the open batch; the caller acks only once it is committed. */
  flush(): void {
    if (this.dirty.size === 0 && this.touched.size === 0) return;
    this.writes.write(() => {
      for (const id of this.dirty) {
        const device = this.byId.get(id);
        if (device !== undefined) this.save(device);
      }
      for (const id of this.touched) {
        const device = this.byId.get(id);
        if (device !== undefined) this.touchStmt.run(device.lastSeen, id);
      }
    });
    this.dirty.clear();
    this.touched.clear();
  }

  /** The row's `info` holds the device whole: its `gateway` and `statusSince` are read back from elsewhere (record()). */
  private save(device: HubDevice): void {
    this.upsertStmt.run(device.id, device.gateway, JSON.stringify(device), device.lastSeen);
  }

  /**
   * The device as the hub keeps it: one object of one shape (every key set, in one order), equal link lists and
   * attributes shared between devices (shared-links.ts), the source's one copy, `lastSeen` never moving back.
   */
  private record(gateway: string, info: DeviceInfo, previous: HubDevice | undefined, now: number | null): HubDevice {
    const { registration } = info;
    return {
      id: info.id,
      ep: info.ep,
      d: info.d,
      address: info.address,
      status: info.status,
      source: intern(info.source) as DeviceInfo['source'],
      registered: info.registered,
      lastSeen: Math.max(info.lastSeen, previous?.lastSeen ?? 0),
      resources: this.links.of(info.resources, previous?.resources),
      registration: registration && {
        base: registration.base,
        lt: registration.lt,
        et: registration.et,
        attrs: sharedAttrs(registration.attrs),
        updatedAt: registration.updatedAt,
        expiresAt: registration.expiresAt,
      },
      sleepy: info.sleepy,
      gateway,
      statusSince: previous?.status === info.status ? previous.statusSince : now,
    };
  }
}
