import os from 'node:os';
import type { DiscoveryConfig } from '../../src/config.js';

/** One group on one interface; no interface = the system's default. */
export interface GroupMembership {
  group: string;
  interface?: string;
}

const isIpv6 = (address: string): boolean => address.includes(':');

/**
 * The interface to use for one group: IPv4 groups take an IPv4 address, IPv6 groups a scope
 * (`::%eth0`); an interface name resolves to whichever the group needs. Undefined when the
 * configured interface cannot carry that group's family.
 */
function interfaceFor(group: string, configured: string): string | undefined {
  const byName = os.networkInterfaces()[configured];
  if (byName) {
    if (isIpv6(group)) return `::%${configured}`;
    return byName.find((address) => address.family === 'IPv4')?.address;
  }
  return isIpv6(group) === isIpv6(configured) ? configured : undefined;
}

/** Every (group, interface) pair the configuration asks for (COREGATE_DISCOVERY_INTERFACES lands in `interfaces`). */
export function groupInterfaces(groups: string[], interfaces: string[]): GroupMembership[] {
  const pairs: GroupMembership[] = [];
  for (const group of groups) {
    if (interfaces.length === 0) pairs.push({ group });
    for (const configured of interfaces) {
      const iface = interfaceFor(group, configured);
      if (iface !== undefined) pairs.push({ group, interface: iface });
    }
  }
  return pairs;
}

/**
 * The groups the RD's socket joins so that multicast simple registrations and RD discovery reach it
 * (RFC 9176 §4, §5.1): the All-CoAP-Nodes groups on the configured interfaces, none when discovery
 * or multicast is off. For `new ResourceDirectory({ ..., multicastGroups: multicastGroups(config.discovery) })`.
 */
export function multicastGroups(config: DiscoveryConfig): GroupMembership[] {
  return config.enabled && config.multicast ? groupInterfaces(config.groups, config.interfaces) : [];
}
