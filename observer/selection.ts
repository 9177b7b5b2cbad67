import type { ObserverConfig } from '../src/config.js';
import type { Registration } from '../src/store/index.js';
import type { Link } from '../src/coap/link-format.js';

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
 * The resources of one registration the configuration selects: every link marked `obs` when
 * `observeMarked` is on (RFC 6690 §3 via RFC 7641 §6), plus links a poll rule names by path or `rt`.
 * Links resolve against the registration's base (RFC 9176 §4.3); only the registered links are
 * considered, so a poll rule never GETs a path a device did not announce.
 */
export function selectResources(reg: Registration, config: ObserverConfig): ResourceTarget[] {
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
    const path = url.pathname || '/';
    const rule = config.poll.find(
      (candidate) =>
        (candidate.path !== undefined && candidate.path === path) ||
        (candidate.rt !== undefined && rtValues(link).includes(candidate.rt)),
    );
    const observe = config.observeMarked && link.attrs.obs !== undefined;
    if (!observe && !rule) continue;
    const target: ResourceTarget = {
      deviceId: reg.deviceId,
      ...authority,
      path,
      mode: observe ? 'observe' : 'poll',
      intervalSeconds: rule?.intervalSeconds ?? config.defaultMaxAgeSeconds,
    };
    targets.set(targetKey(target), target);
  }
  return [...targets.values()];
}

/** Identity of a task (DESIGN "Observer": diffed by device, path and address). */
export function targetKey(target: ResourceTarget): string {
  return `${target.host}|${target.port}|${target.path}`;
}

export function sameTarget(a: ResourceTarget, b: ResourceTarget): boolean {
  return targetKey(a) === targetKey(b) && a.mode === b.mode && a.intervalSeconds === b.intervalSeconds;
}
