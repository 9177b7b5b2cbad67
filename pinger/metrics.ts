import { Counter, Gauge, type Registry } from '../src/metrics/index.js';

/** The Pinger's figures: rounds, pings by outcome (a miss is an unanswered ping), the last round's length. */
export class PingerMetrics {
  private readonly rounds: Counter;
  private readonly pings: Counter<'result'>;
  private readonly lastRound: Gauge;

  constructor(registry: Registry) {
    this.rounds = new Counter({
      name: 'coregate_pinger_rounds_total',
      help: 'Ping rounds finished (each pings every known device once)',
      registers: [registry],
    });
    this.pings = new Counter({
      name: 'coregate_pinger_pings_total',
      help: 'CoAP pings (RFC 7252 §4.3) by result: answered, or missed (no Reset within pinger.timeoutMs)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.lastRound = new Gauge({
      name: 'coregate_pinger_last_round_duration_seconds',
      help: 'How long the last finished ping round took',
      registers: [registry],
    });
    // Both series exist from the start, so rate() over a fresh gateway is 0 rather than absent.
    this.pings.inc({ result: 'answered' }, 0);
    this.pings.inc({ result: 'missed' }, 0);
  }

  ping(answered: boolean): void {
    this.pings.inc({ result: answered ? 'answered' : 'missed' });
  }

  round(durationMs: number): void {
    this.rounds.inc();
    this.lastRound.set(durationMs / 1000);
  }
}
