import { Counter, Gauge, type Registry } from '../src/metrics/index.js';

/**
 * The Observer's figures: tasks running by mode (an `observe` task is an active RFC 7641 observation, or its
 * polling fallback) and values received by source (a notification carries an Observe option, a poll reply none).
 */
export class ObserverMetrics {
  private readonly values: Counter<'source'>;

  constructor(registry: Registry, tasks: () => { observe: number; poll: number }) {
    new Gauge({
      name: 'coregate_observer_active_tasks',
      help: 'Resources the Observer follows now, by mode: observe (RFC 7641 observation) or poll',
      labelNames: ['mode'],
      registers: [registry],
      collect() {
        const count = tasks();
        this.set({ mode: 'observe' }, count.observe);
        this.set({ mode: 'poll' }, count.poll);
      },
    });
    this.values = new Counter({
      name: 'coregate_observer_values_total',
      help: 'Telemetry values received by the Observer, by source: notification (RFC 7641) or poll (GET reply)',
      labelNames: ['source'],
      registers: [registry],
    });
    this.values.inc({ source: 'notification' }, 0);
    this.values.inc({ source: 'poll' }, 0);
  }

  received(notification: boolean): void {
    this.values.inc({ source: notification ? 'notification' : 'poll' });
  }
}
