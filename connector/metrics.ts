import { Counter, Gauge, type Registry } from '../src/metrics/index.js';
/** The Connector's states (its `ConnectorState`), each a series of the state gauge. */
const STATES = ['connecting', 'authenticating', 'online', 'offline'] as const;

/** The platform link's figures: its state now and since when, and how often it had to reconnect. */
export class ConnectorMetrics {
  private readonly reconnects: Counter;
  private readonly changedAt: Gauge;

  constructor(registry: Registry, state: () => (typeof STATES)[number]) {
    new Gauge({
      name: 'coregate_platform_link_up',
      help: '1 while the platform link is authenticated and streaming, else 0',
      registers: [registry],
      collect() {
        this.set(state() === 'online' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'coregate_platform_link_state',
      help: 'The platform link state: 1 for the current one of connecting, authenticating, online, offline',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const current = state();
        for (const each of STATES) this.set({ state: each }, each === current ? 1 : 0);
      },
    });
    this.changedAt = new Gauge({
      name: 'coregate_platform_link_state_changed_timestamp_seconds',
      help: 'When the platform link last changed state (Unix time)',
      registers: [registry],
    });
    this.reconnects = new Counter({
      name: 'coregate_platform_reconnects_total',
      help: 'Reconnections scheduled after the platform link closed or could not be opened',
      registers: [registry],
    });
  }

  changed(): void {
    this.changedAt.set(Date.now() / 1000);
  }

  reconnecting(): void {
    this.reconnects.inc();
  }
}
