export { Pinger, type PingerDeps, type SweepStats } from './pinger.js';
