import type { Registration } from './types.js';

/** Which devices sleep, and for how long they stay reachable after each sign of life (config `sleepy`). */
export interface SleepyRules {
  /** Seconds a sleepy device is reachable after any message from it. */
  awakeWindowSeconds: number;
  /** `ep` patterns (`*` matches any run of characters) of devices that sleep whatever they register with. */
  endpoints: string[];
  /** `et` values of devices that sleep. */
  endpointTypes: string[];
}

/**
 * LwM2M's default awake window: MAX_TRANSMIT_WAIT, 93 s (OMA-TS-LightweightM2M_Core-V1_1 §6.5 "Queue Mode
 * Operation", from RFC 7252 §4.8.2's default transmission parameters).
 */
export const DEFAULT_AWAKE_WINDOW_SECONDS = 93;

/** The registration attribute a plain RFC 9176 device sets to say it sleeps: `?ep=..&sleepy` or `sleepy=<seconds>`. */
export const SLEEPY_ATTRIBUTE = 'sleepy';

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`);
}

const escape = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/**
 * Decides from a registration whether a device sleeps:
 * - LwM2M 1.0 queue mode: a binding with `Q` (`b=UQ`, `b=SQ`, `b=UQS`; OMA-TS-LightweightM2M-V1_0_2 §5.3.1.1);
 * - LwM2M 1.1 queue mode: the `Q` parameter (OMA-TS-LightweightM2M_Core-V1_1 §6.2.1, Table 6.2.1.-1);
 * - the `sleepy` attribute of a plain RFC 9176 registration (RFC 9176 §9.3 leaves the set of endpoint
 *   attributes open);
 * - configuration: an `ep` pattern or an `et` value.
 */
export class SleepyClassifier {
  private readonly patterns: RegExp[];

  constructor(private readonly rules: SleepyRules) {
    this.patterns = rules.endpoints.map(globToRegExp);
  }

  isSleepy(reg: Registration | undefined): boolean {
    if (!reg || reg.discovered) return false;
    const { attrs } = reg;
    if (typeof attrs.b === 'string' && attrs.b.includes('Q')) return true;
    if (attrs.Q !== undefined || attrs[SLEEPY_ATTRIBUTE] !== undefined) return true;
    if (this.patterns.some((pattern) => pattern.test(reg.ep))) return true;
    const types = reg.et?.split(/\s+/) ?? [];
    return types.some((type) => this.rules.endpointTypes.includes(type));
  }

  /** How long the device stays reachable after a sign of life: its own `sleepy=<seconds>`, else the configured window. */
  awakeWindowMs(reg: Registration | undefined): number {
    const own = reg?.attrs[SLEEPY_ATTRIBUTE];
    const seconds = typeof own === 'string' && /^[0-9]{1,6}$/.test(own) && Number(own) > 0 ? Number(own) : undefined;
    return (seconds ?? this.rules.awakeWindowSeconds) * 1000;
  }
}

export const defaultSleepyRules: SleepyRules = {
  awakeWindowSeconds: DEFAULT_AWAKE_WINDOW_SECONDS,
  endpoints: [],
  endpointTypes: [],
};
