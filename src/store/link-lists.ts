import type { Link } from '../coap/link-format.js';

interface Shared {
  links: readonly Link[];
  /** Registrations holding this list. */
  refs: number;
  /** The next list whose JSON has the same hash. */
  next: Shared | undefined;
}

/**
 * One copy of each distinct link list the registrations mirror holds. A fleet of one device model registers the
 * same links thousands of times, and each registration held its own array, link and attribute objects (some
 * 660 bytes for five links). Lists are equal when their JSON (the text the row stores) is; they are found by a
 * hash of it, so no JSON text is kept, and counted, so a list no registration holds any more is let go. Shared
 * lists are frozen: a change is a new list (registrations are immutable values already, rd/resolved.ts).
 */
export class LinkLists {
  private readonly byHash = new Map<number, Shared>();

  /** The shared copy of a list equal to `links` (`json` is its JSON), held once more. */
  hold(links: readonly Link[], json: string): readonly Link[] {
    const hash = hashOf(json);
    const first = this.byHash.get(hash);
    for (let shared = first; shared !== undefined; shared = shared.next) {
      if (shared.links === links || JSON.stringify(shared.links) === json) {
        shared.refs++;
        return shared.links;
      }
    }
    this.byHash.set(hash, { links: freeze(links), refs: 1, next: first });
    return links;
  }

  /** A registration let go of `links` (a list hold() returned). */
  release(links: readonly Link[]): void {
    const hash = hashOf(JSON.stringify(links));
    let previous: Shared | undefined;
    for (let shared = this.byHash.get(hash); shared !== undefined; previous = shared, shared = shared.next) {
      if (shared.links !== links) continue;
      if (--shared.refs > 0) return;
      if (previous !== undefined) previous.next = shared.next;
      else if (shared.next !== undefined) this.byHash.set(hash, shared.next);
      else this.byHash.delete(hash);
      return;
    }
  }
}

function freeze(links: readonly Link[]): readonly Link[] {
  for (const link of links) Object.freeze(Object.freeze(link).attrs);
  return Object.freeze(links);
}

/** FNV-1a over the UTF-16 code units, kept to 30 bits: a small integer key, never a heap number. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}
