export { Discovery, discoveredLifetime, type DiscoveryDeps, type OnDiscovered } from './discovery.js';
export type { MdnsSocketOptions } from './mdns.js';
export { multicastGroups, type GroupMembership } from './interfaces.js';
