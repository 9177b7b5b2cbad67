export { ResourceDirectory, type ResourceDirectoryDeps } from './resource-directory.js';
export { Directory, type DiscoveredResult, type RegistrationInput } from './directory.js';
export type { Source } from './address.js';
export { Lookup, type FoundResource } from './lookup.js';
export { parseLookupQuery, type LookupQuery } from './query.js';
export { endpointLink, locationOf, resolveLink } from './resolved.js';
export * from './discovery/index.js';
