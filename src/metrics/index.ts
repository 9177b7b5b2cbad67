export {
  Counter,
  Gauge,
  Histogram,
  Registry,
  createRegistry,
  exposition,
  mirroredCounter,
  secondsSince,
} from './registry.js';
export { evaluate, type Readiness, type ReadinessCheck } from './health.js';
export { operatorRoutes, type OperatorRoutes, type OperatorRoutesOptions } from './routes.js';
export { MetricsServer } from './server.js';
