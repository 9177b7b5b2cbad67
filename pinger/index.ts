export { Pinger, type PingerDeps, type SweepStats } from './pinger.js';
export { AwakeWindows, type AwakeWindowsDeps } from './awake-windows.js';
