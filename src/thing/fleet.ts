import type { Logger } from '../log.js';
import type { RdTarget, RegistrationMode } from './registration.js';
import { Thing } from './thing.js';

export interface FleetOptions {
  log: Logger;
  count: number;
  /** Endpoint names are `<namePrefix>-<n>`, n from 1. */
  namePrefix?: string;
  host?: string;
  /** First port; thing n gets basePort + n - 1. 0 lets every thing pick a free port. */
  basePort?: number;
  rd?: RdTarget;
  registration?: RegistrationMode;
  lifetime?: number;
  sensorIntervalMs?: number;
  /** Battery things: radio on for `awakeMs`, off for `sleepMs` (see ThingOptions.sleepy). */
  sleepy?: { awakeMs: number; sleepMs: number };
  /** Things started at once: registering thousands together would flood the RD. */
  startConcurrency?: number;
  onProgress?: (started: number, total: number) => void;
}

/** N simulated things on distinct ports, for demos, tests and benchmarks. */
export class Fleet {
  readonly things: Thing[];

  constructor(private readonly options: FleetOptions) {
    const { count, namePrefix = 'thing', basePort = 0 } = options;
    this.things = Array.from(
      { length: count },
      (_, i) =>
        new Thing({
          log: options.log,
          name: `${namePrefix}-${i + 1}`,
          host: options.host,
          port: basePort === 0 ? 0 : basePort + i,
          rd: options.rd,
          registration: options.registration,
          lifetime: options.lifetime,
          sensorIntervalMs: options.sensorIntervalMs,
          ...(options.sleepy && { sleepy: options.sleepy }),
        }),
    );
  }

  async start(): Promise<void> {
    const { startConcurrency = 50, onProgress } = this.options;
    let next = 0;
    let started = 0;
    const worker = async (): Promise<void> => {
      while (next < this.things.length) {
        const thing = this.things[next++]!;
        await thing.start();
        onProgress?.(++started, this.things.length);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(startConcurrency, this.things.length) }, worker));
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.things.map((thing) => thing.stop()));
  }
}
