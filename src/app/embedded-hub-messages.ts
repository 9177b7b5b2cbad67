import type { HubConfig } from '../config.js';
import type { Readiness } from '../metrics/index.js';

/** What the embedded hub's thread starts from (structured-cloned: plain data only). */
export interface HubThreadData {
  config: HubConfig;
  level: string;
  pretty: boolean;
  metricsNeedApiKey: boolean;
}

/** Gateway → hub thread. */
export type ToHubThread =
  { type: 'readiness'; checks: Readiness['checks'] } | { type: 'metrics'; id: number; text: string } | { type: 'stop' };

/** Hub thread → gateway. */
export type FromHubThread =
  | { type: 'started'; port: number }
  | { type: 'failed'; error: { name: string; message: string; code?: string; address?: string; port?: number } }
  /** A scrape of the hub's /metrics asks for the gateway's part. */
  | { type: 'metrics'; id: number };
