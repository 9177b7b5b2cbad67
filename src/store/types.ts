import type { Attrs, Link } from '../coap/link-format.js';

export type DeviceStatus = 'online' | 'offline';

/** How the gateway first learnt of a device. */
export type DeviceSource = 'registration' | 'simple' | 'discovery';

export interface Device {
  /** The gateway's own stable id; the only id the platform sees. */
  id: string;
  ep: string | null;
  d: string | null;
  host: string;
  port: number;
  status: DeviceStatus;
  source: DeviceSource;
  createdAt: number;
  lastSeen: number;
}

/** An RFC 9176 registration. Its location is `/rd/<deviceId>`. */
export interface Registration {
  deviceId: string;
  ep: string;
  d: string | null;
  /** Base URI the links resolve against (explicit `base` or the registrant's source address). */
  base: string;
  baseExplicit: boolean;
  lt: number;
  et: string | null;
  /** Further registration attributes (RFC 9176 §9.3 and any extension, e.g. lwm2m, b). */
  attrs: Attrs;
  links: Link[];
  discovered: boolean;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
}

/** A group of draft-ietf-core-resource-directory-11 (`/rd-group`). */
export interface Group {
  id: string;
  gp: string;
  d: string | null;
  /** Optional multicast base address (`con` / `base`). */
  base: string | null;
  attrs: Attrs;
  members: string[];
  createdAt: number;
}

/** What events and the platform see of a device. */
export interface DeviceInfo {
  id: string;
  ep: string | null;
  d: string | null;
  address: string;
  status: DeviceStatus;
  source: DeviceSource;
  registered: boolean;
  lastSeen: number;
  resources: Link[];
  /** The registration's parameters (RFC 9176 §5.3), for people looking at the device; null when it has none. */
  registration?: DeviceRegistrationInfo | null;
}

/** What DeviceInfo shows of a registration beyond its links. */
export interface DeviceRegistrationInfo {
  base: string;
  lt: number;
  et: string | null;
  attrs: Attrs;
  updatedAt: number;
  expiresAt: number;
}

export interface OutboxEntry {
  seq: number;
  kind: 'event' | 'telemetry';
  name: string;
  deviceId: string | null;
  body: unknown;
  createdAt: number;
}
