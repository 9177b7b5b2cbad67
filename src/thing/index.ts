export { Thing, type ThingOptions, type RequestLogEntry } from './thing.js';
export { Fleet, type FleetOptions } from './fleet.js';
export { type RdTarget, type RegistrationMode } from './registration.js';
export { BIG_SIZE, DEFAULT_SLOW_MS } from './resources.js';
export { LeanFleet, LEAN_LINKS, type LeanFleetOptions, type LeanFleetStats } from './lean-fleet.js';
