/**
 * Readiness as orchestrators and load balancers ask for it (Kubernetes' readiness probe, HAProxy's health
 * checks): a few named, cheap checks, each true or a short reason why not. /healthz only says the process answers.
 */
export interface ReadinessCheck {
  name: string;
  check: () => true | string;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

export function evaluate(checks: readonly ReadinessCheck[]): Readiness {
  const result: Readiness = { ready: true, checks: {} };
  for (const { name, check } of checks) {
    let outcome: true | string;
    try {
      outcome = check();
    } catch (err) {
      outcome = (err as Error).message;
    }
    result.checks[name] = outcome === true ? 'ok' : outcome;
    if (outcome !== true) result.ready = false;
  }
  return result;
}
