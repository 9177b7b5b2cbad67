export { ResourceDirectory, type ResourceDirectoryDeps } from './resource-directory.js';
export { Directory, type DiscoveredResult, type RegistrationInput, type Source } from './directory.js';
