import type { Attrs, Link } from '../coap/link-format.js';

/**
 * `asleep`: a sleepy device between its awake windows (registered, reachable only when it next wakes);
 * `offline` only when a registration expires or a non-sleepy device stops answering.
 */
export type DeviceStatus = 'online' | 'offline' | 'asleep';

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
  /** Shared between registrations with equal links, and frozen (src/coap/shared-links.ts). */
  links: readonly Link[];
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
  /** Sleeps between awake windows (LwM2M queue mode, configuration, or the `sleepy` attribute). */
  sleepy?: boolean;
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
  /** `command`: a queued command's status (never dropped, like events). */
  kind: 'event' | 'telemetry' | 'command';
  name: string;
  deviceId: string | null;
  body: unknown;
  createdAt: number;
}
