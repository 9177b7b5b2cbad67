export { Observer, type ObserverDeps } from './observer.js';
export { selectResources, type ResourceTarget } from './selection.js';
