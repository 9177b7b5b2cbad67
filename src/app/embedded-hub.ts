import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { HubConfig } from '../config.js';
import { ConfigError } from '../config.js';
import { evaluate, type ReadinessCheck, type Registry } from '../metrics/index.js';
import type { FromHubThread, HubThreadData, ToHubThread } from './embedded-hub-messages.js';

/** How often the gateway tells the hub's thread its readiness (what the hub's /readyz answers from). */
const READINESS_EVERY_MS = 250;
/** The longest a stop waits for the hub's thread to close its sockets and commit before it is terminated. */
const STOP_TIMEOUT_MS = 10_000;

export interface EmbeddedHubOptions {
  config: HubConfig;
  log: Logger;
  /** Whether the gateway's log is pretty-printed; the hub's thread logs the same way. */
  pretty: boolean;
  /** The gateway's metrics: the hub's /metrics serves them beside its own. */
  metrics: Registry;
  metricsNeedApiKey: boolean;
  /** The gateway's readiness checks, which the hub's /readyz includes. */
  readiness: () => readonly ReadinessCheck[];
}

/**
 * The hub `coregate start` embeds when no platform URL is set, on a worker thread of its own
 * (docs/architecture.md "The embedded hub"): the event loop that answers devices never waits for the hub's
 * handling of device events, its HTTP API, pub/sub and webhooks, and the hub's heap is collected apart from
 * the gateway's. The link between them stays the real WebSocket on loopback, as with any other hub.
 */
export class EmbeddedHub {
  private worker: Worker | undefined;
  private readinessTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: EmbeddedHubOptions) {}

  /** Starts the hub's thread; resolves with the port its HTTP server listens on. */
  start(): Promise<{ port: number }> {
    const { config, log, pretty, metricsNeedApiKey } = this.options;
    const workerData: HubThreadData = { config, level: log.level, pretty, metricsNeedApiKey };
    const worker = new Worker(new URL('./embedded-hub-thread.js', import.meta.url), { workerData });
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (message: FromHubThread) => {
        if (message.type === 'started') {
          started = true;
          this.tellReadiness();
          this.readinessTimer = setInterval(() => this.tellReadiness(), READINESS_EVERY_MS);
          this.readinessTimer.unref();
          resolve({ port: message.port });
        } else if (message.type === 'failed') {
          reject(rebuild(message.error));
        } else if (message.type === 'metrics') {
          void this.answerMetrics(message.id);
        }
      });
      worker.on('error', (err) => {
        if (!started) return reject(err);
        // As an uncaught error anywhere in the process would: the gateway stops (its store is crash-safe).
        log.fatal({ err }, 'the embedded hub failed; stopping the gateway');
        process.exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
      });
      worker.once('exit', (code) => {
        if (!started) reject(new Error(`the embedded hub's thread exited (code ${code}) before it started`));
      });
    });
  }

  /** Closes the hub's sockets and commits its database, then ends its thread. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    clearInterval(this.readinessTimer);
    this.send(worker, { type: 'stop' });
    const timeout = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timeout);
  }

  private tellReadiness(): void {
    if (this.worker === undefined) return;
    this.send(this.worker, { type: 'readiness', checks: evaluate(this.options.readiness()).checks });
  }

  private async answerMetrics(id: number): Promise<void> {
    const text = await this.options.metrics.metrics();
    if (this.worker !== undefined) this.send(this.worker, { type: 'metrics', id, text });
  }

  private send(worker: Worker, message: ToHubThread): void {
    worker.postMessage(message);
  }
}

/** The hub thread's startup error as the start command explains it (ConfigError, or an errno naming a port). */
function rebuild(error: Extract<FromHubThread, { type: 'failed' }>['error']): Error {
  if (error.name === 'ConfigError') return new ConfigError(error.message);
  return Object.assign(new Error(error.message), { code: error.code, address: error.address, port: error.port });
}
