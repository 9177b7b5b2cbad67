import type { ObserverConfig } from '../src/config.js';
import type { Registration } from '../src/store/index.js';
import type { Link } from '../src/coap/link-format.js';
import { intern } from '../src/coap/intern.js';

export type TaskMode = 'observe' | 'poll';

/** One resource the Observer produces telemetry for, at the address it is reached at. */
export interface ResourceTarget {
  deviceId: string;
  host: string;
  port: number;
  path: string;
  mode: TaskMode;
  /**
   * Seconds between GETs: the poll rule's interval, or for an observed resource the interval it is
   * polled at when the device turns out not to support Observe (RFC 7641 §3.1: a reply without Observe).
   */
  intervalSeconds: number;
}

const COAP_DEFAULT_PORT = 5683;

/** Host and port of a `coap://` URI; other schemes (coaps, coap+tcp) are not what this client speaks. */
function coapAuthority(url: URL): { host: string; port: number } | undefined {
  if (url.protocol !== 'coap:' || url.hostname === '') return undefined;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? COAP_DEFAULT_PORT : Number(url.port) };
}

function rtValues(link: Link): string[] {
  const rt = link.attrs.rt;
  return typeof rt === 'string' ? rt.split(/\s+/).filter(Boolean) : [];
}

/**
 * Whether `path` is `link` or lies below it, segment by segment (`/3303/0/5700` under `/3303/0`, not `/3303/01`).
 * The root link is no ancestor: LwM2M's `</>;rt="oma.lwm2m"` names the client's root path (OMA-TS-
 * LightweightM2M_Core-V1_1 §6.2.1), not a resource that holds every other.
 */
function isAtOrBelow(path: string, link: string): boolean {
  const trimmed = link.replace(/\/+$/, '');
  return path === link || (trimmed !== '' && path.startsWith(`${trimmed}/`));
}

/**
 * The resources of one registration the configuration selects: every link marked `obs` when
 * `observeMarked` is on (RFC 6690 §3 via RFC 7641 §6), plus links a poll rule names by path or `rt`,
 * plus the `observe` paths at or below a registered link (LwM2M registers objects and instances, `</3303/0>`,
 * and the resources below them are what one observes: OMA-TS-LightweightM2M_Core-V1_1 §6.4.1, §5.2.7.3).
 * Links resolve against the registration's base (RFC 9176 §4.3); only the registered links are
 * considered, so a rule never GETs a path a device did not announce. A sleepy device is never polled:
 * between its awake windows nothing reaches it (`sleepy`).
 */
export function selectResources(reg: Registration, config: ObserverConfig, sleepy = false): ResourceTarget[] {
  let base: URL;
  try {
    base = new URL(reg.base);
  } catch {
    return [];
  }
  const targets = new Map<string, ResourceTarget>();
  for (const link of reg.links) {
    let url: URL;
    try {
      url = new URL(link.href, base);
    } catch {
      continue;
    }
    const authority = coapAuthority(url);
    if (!authority) continue;
    // Shared by every device that registered the same path: a task keeps its target as long as it runs.
    const path = intern(url.pathname || '/');
    const rule = config.poll.find(
      (candidate) =>
        (candidate.path !== undefined && candidate.path === path) ||
        (candidate.rt !== undefined && rtValues(link).includes(candidate.rt)),
    );
    for (const wanted of config.observe) {
      if (!isAtOrBelow(wanted.path, path)) continue;
      const target = resourceTarget(reg.deviceId, authority, wanted.path, 'observe', config.defaultMaxAgeSeconds);
      targets.set(targetKey(target), target);
    }
    const observe = config.observeMarked && link.attrs.obs !== undefined;
    if (!observe && (!rule || sleepy)) continue;
    const target = resourceTarget(
      reg.deviceId,
      authority,
      path,
      observe ? 'observe' : 'poll',
      rule?.intervalSeconds ?? config.defaultMaxAgeSeconds,
    );
    targets.set(targetKey(target), target);
  }
  return [...targets.values()];
}

/** Every field written in one literal, in one order: all targets share one shape with in-object fields. */
function resourceTarget(
  deviceId: string,
  { host, port }: { host: string; port: number },
  path: string,
  mode: TaskMode,
  intervalSeconds: number,
): ResourceTarget {
  return { deviceId, host, port, path, mode, intervalSeconds };
}

/** Identity of a task (DESIGN "Observer": diffed by device, path and address). */
export function targetKey(target: ResourceTarget): string {
  return `${target.host}|${target.port}|${target.path}`;
}

export function sameTarget(a: ResourceTarget, b: ResourceTarget): boolean {
  return targetKey(a) === targetKey(b) && a.mode === b.mode && a.intervalSeconds === b.intervalSeconds;
}
