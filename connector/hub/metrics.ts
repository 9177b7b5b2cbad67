import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, mirroredCounter, secondsSince, type Registry } from '../../src/metrics/index.js';
import type { WebhookStats } from './webhooks.js';

/** What the hub's metrics read at scrape time. */
export interface HubMetricSources {
  gatewaysConnected: () => number;
  subscribers: () => number;
  /** Upstream frames dropped as resends (their seq was taken before). */
  duplicates: () => number;
  /** Events not delivered to a subscriber because it was too slow and was disconnected. */
  slowSubscriberDrops: () => number;
  webhooks: () => readonly WebhookStats[];
}

/** The first segment of an event name, as the `kind` label: a handful of values, never a device id. */
function kindOf(name: string, from: string | undefined): string {
  if (from !== undefined) return 'client';
  if (name.startsWith('telemetry/')) return 'telemetry';
  if (name.startsWith('device.')) return 'device';
  if (name.startsWith('gateway.')) return 'gateway';
  return 'other';
}

const sum = (stats: readonly WebhookStats[], key: 'delivered' | 'failures' | 'dropped' | 'pending'): number =>
  stats.reduce((total, hook) => total + hook[key], 0);

/**
 * The hub's figures: gateways and subscribers connected, events published and dropped, webhook deliveries, and the
 * latency of every HTTP request by route (the route's pattern, never its device id) and status.
 */
export class HubMetrics {
  private readonly published: Counter<'kind'>;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor(registry: Registry, sources: HubMetricSources) {
    new Gauge({
      name: 'coregate_hub_gateways_connected',
      help: 'Gateways with an authenticated link to the hub',
      registers: [registry],
      collect() {
        this.set(sources.gatewaysConnected());
      },
    });
    new Gauge({
      name: 'coregate_hub_subscribers',
      help: 'WebSocket subscribers connected to /subscribe',
      registers: [registry],
      collect() {
        this.set(sources.subscribers());
      },
    });
    this.published = new Counter({
      name: 'coregate_hub_published_total',
      help: 'Events published to subscribers and webhooks, by kind: device, telemetry, gateway, client, other',
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of ['device', 'telemetry', 'gateway', 'client']) this.published.inc({ kind }, 0);
    mirroredCounter(
      registry,
      {
        name: 'coregate_hub_duplicates_dropped_total',
        help: 'Upstream frames dropped as resends of a seq already taken',
      },
      sources.duplicates,
    );
    mirroredCounter(
      registry,
      {
        name: 'coregate_hub_subscriber_dropped_total',
        help: 'Events not delivered because their subscriber was too slow and was disconnected',
      },
      sources.slowSubscriberDrops,
    );
    const hooks = (key: 'delivered' | 'failures' | 'dropped') => () => sum(sources.webhooks(), key);
    mirroredCounter(
      registry,
      { name: 'coregate_hub_webhook_deliveries_total', help: 'Events delivered to webhook targets (2xx)' },
      hooks('delivered'),
    );
    mirroredCounter(
      registry,
      {
        name: 'coregate_hub_webhook_failures_total',
        help: 'Webhook attempts that failed (non-2xx, network error, timeout), retries included',
      },
      hooks('failures'),
    );
    mirroredCounter(
      registry,
      {
        name: 'coregate_hub_webhook_dropped_total',
        help: 'Events given up on for a webhook target (retries spent, or queue full)',
      },
      hooks('dropped'),
    );
    new Gauge({
      name: 'coregate_hub_webhook_pending',
      help: 'Events waiting for delivery to webhook targets',
      registers: [registry],
      collect() {
        this.set(sum(sources.webhooks(), 'pending'));
      },
    });
    this.requests = new Histogram({
      name: 'coregate_hub_http_request_duration_seconds',
      help: 'HTTP requests to the hub, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  /** For the pub/sub's publish listener. */
  publishedEvent = (name: string, _data: unknown, from?: string): void => {
    this.published.inc({ kind: kindOf(name, from) });
  };

  /** Times `req` until its response is finished (or the connection closes first). */
  timeRequest(req: IncomingMessage, res: ServerResponse, route: () => string): void {
    const started = performance.now();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const method = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'].includes(req.method ?? '')
        ? req.method!
        : 'other';
      this.requests.observe(
        { method, route: res.statusCode === 404 ? 'unmatched' : route(), status: String(res.statusCode) },
        secondsSince(started),
      );
    };
    res.once('finish', finish);
    res.once('close', finish);
  }
}

/**
 * The route pattern of a request path, for the `route` label: ids become `:id` (`/v1/devices/:id/send`), so the
 * label keeps a small fixed set of values. Dashboard files are one route.
 */
export function routeOf(pathname: string): string {
  if (pathname === '/' || pathname.startsWith('/dashboard/') || pathname.startsWith('/vendor/')) return 'dashboard';
  const segments = pathname.split('/');
  if (segments[1] !== 'v1') return pathname;
  // /v1/<collection>/<id>/<collection>/<id>...: every second segment after /v1 is an id.
  for (let i = 3; i < segments.length; i += 2) segments[i] = ':id';
  return segments.join('/');
}
