import type { Registration } from '../src/store/types.js';
import { tokens } from './match.js';

/**
 * Small in-memory indexes over the live registrations, so the common lookups
 * (`ep=node-123`, `rt=temperature`) visit only the registrations that can match.
 * Maintained by Directory on every put and remove.
 */
export class EndpointIndex {
  private readonly byEp = new Map<string, Set<string>>();
  private readonly byRt = new Map<string, Set<string>>();

  add(reg: Registration): void {
    addTo(this.byEp, reg.ep, reg.deviceId);
    for (const token of rtTokens(reg)) addTo(this.byRt, token, reg.deviceId);
  }

  delete(reg: Registration): void {
    removeFrom(this.byEp, reg.ep, reg.deviceId);
    for (const token of rtTokens(reg)) removeFrom(this.byRt, token, reg.deviceId);
  }

  /** Device ids of registrations with that endpoint name (any sector). */
  withEndpoint(ep: string): ReadonlySet<string> {
    return this.byEp.get(ep) ?? EMPTY;
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
