import { parentPort, workerData } from 'node:worker_threads';
import { Hub } from '../../connector/hub/index.js';
import { createLogger } from '../log.js';
import { Registry, type Readiness } from '../metrics/index.js';
import type { FromHubThread, HubThreadData, ToHubThread } from './embedded-hub-messages.js';

/** The program of the embedded hub's worker thread (embedded-hub.ts starts it). */

const data = workerData as HubThreadData;
const port = parentPort!;
const post = (message: FromHubThread): void => port.postMessage(message);

let readiness: Readiness['checks'] = {};
const scrapes = new Map<number, (text: string) => void>();
let nextScrape = 0;

/**
 * The hub's own metrics followed by the gateway's (asked of the gateway's thread per scrape): one /metrics for
 * the whole process, as before the hub had a thread of its own. Node's process metrics come from the gateway's part.
 */
class WithGatewayMetrics extends Registry {
  override async metrics(): Promise<string> {
    const id = nextScrape++;
    const gateway = new Promise<string>((resolve) => scrapes.set(id, resolve));
    post({ type: 'metrics', id });
    const own = await super.metrics();
    // Prometheus' text format: one family after another, each line ending in a newline.
    return own === '' ? await gateway : `${own.endsWith('\n') ? own : `${own}\n`}${await gateway}`;
  }
}

const log = createLogger({ level: data.level, pretty: data.pretty }).child({ component: 'hub' });
const hub = new Hub({
  log,
  config: data.config,
  metrics: new WithGatewayMetrics(),
  metricsNeedApiKey: data.metricsNeedApiKey,
  readiness: () =>
    Object.entries(readiness).map(([name, outcome]) => ({ name, check: () => (outcome === 'ok' ? true : outcome) })),
});

port.on('message', (message: ToHubThread) => {
  if (message.type === 'readiness') readiness = message.checks;
  else if (message.type === 'metrics') {
    scrapes.get(message.id)?.(message.text);
    scrapes.delete(message.id);
  } else if (message.type === 'stop') {
    void hub.stop().finally(() => port.close());
  }
});

hub.start().then(
  ({ port: listening }) => post({ type: 'started', port: listening }),
  (err: unknown) => {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    post({
      type: 'failed',
      error: { name: e.name, message: e.message, code: e.code, address: e.address, port: e.port },
    });
    port.close();
  },
);
