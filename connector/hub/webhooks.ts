import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { HubConfig } from '../../src/config.js';
import { matchesAny } from './patterns.js';
import { eventMessage } from './pubsub.js';

export type WebhookConfig = HubConfig['webhooks'][number];

export interface WebhookOptions {
  /** Attempts per event, the first included. */
  maxAttempts: number;
  /** Delay before the first retry; doubled for each further one. */
  baseDelayMs: number;
  /** Per attempt. */
  timeoutMs: number;
  /** Events queued per webhook beyond which new ones are dropped (and counted), bounding memory. */
  maxPending: number;
  /** Deliveries in flight per webhook. */
  concurrency: number;
}

/** What /socket/info shows of a webhook. */
export interface WebhookStats {
  url: string;
  delivered: number;
  /** Attempts that failed (non-2xx, network error, timeout), retries included. */
  failures: number;
  /** Events given up on after the last attempt, or refused because the queue was full. */
  dropped: number;
  pending: number;
}

interface Delivery {
  body: string;
  attempt: number;
}

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body under the webhook's secret>`. */
export const SIGNATURE_HEADER = 'x-coregate-signature';

export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

class Webhook {
  readonly stats: WebhookStats;
  private readonly queue: Delivery[] = [];
  private inFlight = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly aborts = new Set<AbortController>();

  constructor(
    private readonly config: WebhookConfig,
    private readonly options: WebhookOptions,
    private readonly log: Logger,
  ) {
    this.stats = { url: config.url, delivered: 0, failures: 0, dropped: 0, pending: 0 };
  }

  wants(name: string): boolean {
    return this.config.events.length === 0 || matchesAny(this.config.events, name);
  }

  enqueue(body: string): void {
    if (this.stats.pending >= this.options.maxPending) {
      this.stats.dropped++;
      return;
    }
    this.stats.pending++;
    this.queue.push({ body, attempt: 1 });
    this.pump();
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    for (const abort of this.aborts) abort.abort();
    this.timers.clear();
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const delivery = this.queue.shift()!;
      this.inFlight++;
      void this.attempt(delivery).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async attempt(delivery: Delivery): Promise<void> {
    const abort = new AbortController();
    this.aborts.add(abort);
    const timer = setTimeout(() => abort.abort(), this.options.timeoutMs);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.config.secret !== undefined) headers[SIGNATURE_HEADER] = signatureOf(delivery.body, this.config.secret);
    let problem: string | undefined;
    try {
      const res = await fetch(this.config.url, { method: 'POST', headers, body: delivery.body, signal: abort.signal });
      await res.arrayBuffer();
      if (!res.ok) problem = `HTTP ${res.status}`;
    } catch (err) {
      problem = (err as Error).message;
    } finally {
      clearTimeout(timer);
      this.aborts.delete(abort);
    }
    if (problem === undefined) {
      this.stats.delivered++;
      this.stats.pending--;
      return;
    }
    this.stats.failures++;
    if (delivery.attempt >= this.options.maxAttempts) {
      this.stats.pending--;
      this.stats.dropped++;
      this.log.warn({ url: this.config.url, attempts: delivery.attempt, problem }, 'webhook delivery given up');
      return;
    }
    const delay = this.options.baseDelayMs * 2 ** (delivery.attempt - 1);
    const retry = setTimeout(() => {
      this.timers.delete(retry);
      this.queue.push({ body: delivery.body, attempt: delivery.attempt + 1 });
      this.pump();
    }, delay);
    this.timers.add(retry);
  }
}

/** POSTs every matching event as `{event, data, from?, ts}` to each configured URL, retrying with exponential backoff. */
export class Webhooks {
  private readonly hooks: Webhook[];

  constructor(log: Logger, configs: readonly WebhookConfig[], options: WebhookOptions) {
    this.hooks = configs.map((config) => new Webhook(config, options, log));
  }

  deliver(name: string, data: unknown, from?: string): void {
    let body: string | undefined;
    for (const hook of this.hooks) {
      if (!hook.wants(name)) continue;
      body ??= JSON.stringify(eventMessage(name, data, from));
      hook.enqueue(body);
    }
  }

  stats(): WebhookStats[] {
    return this.hooks.map((hook) => ({ ...hook.stats }));
  }

  stop(): void {
    for (const hook of this.hooks) hook.stop();
  }
}
