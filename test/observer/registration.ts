import type { Device, Store } from '../../src/store/index.js';
import type { Link } from '../../src/coap/link-format.js';

/**
 * What the RD writes for a full registration (RFC 9176 §5.3) from `address`: the device (found by
 * its ep, or new) and a fresh registration whose links resolve against that address. No event.
 */
export function registerInStore(
  store: Store,
  ep: string,
  address: { host: string; port: number },
  links: Link[],
  now = Date.now(),
): Device {
  const existing = store.devices.findByEndpoint(null, ep);
  const device = existing
    ? store.devices.update(existing.id, { ...address, status: 'online', lastSeen: now })
    : store.devices.create({ ep, d: null, ...address, source: 'registration' }, now);
  store.registrations.put({
    deviceId: device.id,
    ep,
    d: null,
    base: `coap://${address.host}:${address.port}`,
    baseExplicit: false,
    lt: 90_000,
    et: null,
    attrs: {},
    links,
    discovered: false,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + 90_000_000,
  });
  return device;
}
