import type { Logger } from '../src/log.js';
import type { CoapClientApi, CoapReply } from '../src/coap/types.js';
import type { Limiter } from './limiter.js';
import type { ResourceTarget } from './selection.js';
import type { Watchdogs } from './watchdogs.js';

/** What every task of the Observer shares. */
export interface TaskContext {
  client: Pick<CoapClientApi, 'request' | 'observe'>;
  limiter: Limiter;
  /** The quiet-stream watchdogs of every observation, on one timer per length. */
  watchdogs: Watchdogs;
  log: Logger;
  requestTimeoutMs: number;
  defaultMaxAgeSeconds: number;
  /** Turns one reply into one telemetry event (2.xx replies only). */
  publish(target: ResourceTarget, reply: CoapReply): void;
  /** A stream went quiet: the device's liveness is checked now instead of at the next ping round. */
  checkLiveness(deviceId: string): void;
}

/** Produces telemetry for one resource of one device until stopped. */
export interface ResourceTask {
  readonly target: ResourceTarget;
  readonly suspended: boolean;
  /** Begins once `after` settles (the previous task of the same resource has deregistered). */
  start(after?: Promise<void>): void;
  /** The device is offline: no timers run until the task is replaced; what still arrives is published. */
  suspend(): void;
  /** Cancels properly (RFC 7641 §3.6) and clears every timer; settles only once `after` of start() has too. */
  stop(): Promise<void>;
}
