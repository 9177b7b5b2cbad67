import type { Registration } from '../src/store/types.js';
import { tokens } from './match.js';

/**
 * Small in-memory indexes over the live registrations, so the common lookups
 * (`ep=node-123`, `rt=temperature`) visit only the registrations that can match.
 * Maintained by Directory on every put and remove.
 */
export class EndpointIndex {
  /**
   * An endpoint name is almost always one device's (sectors apart): its one id is held as is, and a Set
   * (some 150 bytes) only once a second device shares the name.
   */
  private readonly byEp = new Map<string, string | Set<string>>();
  private readonly byRt = new Map<string, Set<string>>();

  add(reg: Registration): void {
    const held = this.byEp.get(reg.ep);
    if (held === undefined || held === reg.deviceId) this.byEp.set(reg.ep, reg.deviceId);
    else if (typeof held === 'string') this.byEp.set(reg.ep, new Set([held, reg.deviceId]));
    else held.add(reg.deviceId);
    for (const token of rtTokens(reg)) addTo(this.byRt, token, reg.deviceId);
  }

  delete(reg: Registration): void {
    const held = this.byEp.get(reg.ep);
    if (held === reg.deviceId) this.byEp.delete(reg.ep);
    else if (typeof held === 'object') {
      held.delete(reg.deviceId);
      if (held.size === 1) this.byEp.set(reg.ep, held.values().next().value!);
    }
    for (const token of rtTokens(reg)) removeFrom(this.byRt, token, reg.deviceId);
  }

  /** Device ids of registrations with that endpoint name (any sector). */
  withEndpoint(ep: string): ReadonlySet<string> {
    const held = this.byEp.get(ep);
    return held === undefined ? EMPTY : typeof held === 'string' ? new Set([held]) : held;
  }

  /** Device ids of registrations with a link carrying that rt token. */
  withResourceType(rt: string): ReadonlySet<string> {
    return this.byRt.get(rt) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function rtTokens(reg: Registration): Set<string> {
  const out = new Set<string>();
  for (const link of reg.links) {
    const rt = link.attrs.rt;
    if (typeof rt === 'string') for (const token of tokens(rt)) out.add(token);
  }
  return out;
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) map.delete(key);
}
