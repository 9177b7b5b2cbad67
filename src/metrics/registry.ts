import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * One registry per process: every component registers its metrics on it through the composition root, and
 * prom-client's process metrics (event-loop lag, heap, GC, CPU, file descriptors) are added once.
 * Metric names follow https://prometheus.io/docs/practices/naming/: the `coregate_` prefix, base units,
 * `_total` on counters, labels with a small fixed set of values.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges with `_total`, which Prometheus reserves for counters (promtool's lint refuses
  // them); their sums are the totals of nodejs_active_handles / nodejs_active_resources by type.
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/** A scrape: Prometheus' text exposition format 0.0.4 and its content type. */
export async function exposition(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * A counter that mirrors a monotonic total kept elsewhere (a component's own tally, a persisted count):
 * each scrape adds what the total grew by since the last one, so the component needs no prom-client calls.
 * A total that goes back (its owner was rebuilt) is taken as a fresh start.
 */
export function mirroredCounter(
  registry: Registry,
  options: { name: string; help: string },
  read: () => number,
): Counter {
  let seen = 0;
  return new Counter({
    ...options,
    registers: [registry],
    collect() {
      const total = read();
      if (total > seen) this.inc(total - seen);
      seen = total;
    },
  });
}

/** Seconds since `start` (a performance.now() reading), for histograms in base units. */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
