import { intern } from './intern.js';
import type { Attrs, Link } from './link-format.js';

/** Distinct link lists kept; a list seen when the table is full is still copied with interned strings, unshared. */
const MAX_LISTS = 1_024;
/** Longer lists (as JSON) are not kept, so the table stays within ~2 MB whatever the devices register. */
const MAX_KEY_LENGTH = 2_048;
const EMPTY: Attrs = Object.freeze({});

/**
 * One frozen copy of each distinct link list: the gateway's registrations mirror and the hub's device registry both
 * hold their links through one. A fleet registers the same few lists over and over (five links: some 570–660 bytes a
 * device as a payload or a frame parses them, most of the memory per device on either side), so devices with equal
 * links share one array. Frozen, because every device holding it would see a change (registrations are immutable
 * values already, rd/resolved.ts). The table is bounded, not counted: a list seen when it is full stays unshared.
 */
export class SharedLinks {
  private readonly lists = new Map<string, Link[]>();
  /** The list returned last: devices of one kind register one after another. */
  private last: Link[] = [];

  /**
   * The shared list equal to `links`: `previous` (the device's list before this event) or the last one returned when
   * equal, which spares the lookup's JSON key.
   */
  of(links: readonly Link[], previous?: readonly Link[]): Link[] {
    if (previous !== undefined && sameLinks(previous, links)) return previous as Link[];
    if (sameLinks(this.last, links)) return this.last;
    const key = JSON.stringify(links);
    let list = this.lists.get(key);
    if (list === undefined) {
      list = Object.freeze(links.map(frozenLink)) as Link[];
      if (this.lists.size < MAX_LISTS && key.length <= MAX_KEY_LENGTH) this.lists.set(key, list);
    }
    this.last = list;
    return list;
  }
}

/**
 * Attributes whose strings are the interned ones: each event frame is parsed into fresh strings, and thousands of
 * devices repeat the same ones (`rt="temperature"`); no attributes at all is one shared empty object.
 */
export function sharedAttrs(attrs: Attrs): Attrs {
  let copy: Attrs | undefined;
  for (const name in attrs) {
    const value = attrs[name]!;
    (copy ??= {})[intern(name)] = value === true ? true : intern(value);
  }
  return copy === undefined ? EMPTY : Object.freeze(copy);
}

const frozenLink = (link: Link): Link => Object.freeze({ href: intern(link.href), attrs: sharedAttrs(link.attrs) });

/** Equal links: the same targets with the same attributes, in the same order. */
export function sameLinks(a: readonly Link[], b: readonly Link[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.href !== y.href || !sameAttrs(x.attrs, y.attrs)) return false;
  }
  return true;
}

/** The same attribute names with the same values. */
export function sameAttrs(a: Attrs, b: Attrs): boolean {
  if (a === b) return true;
  let count = 0;
  for (const name in a) {
    if (!Object.hasOwn(b, name) || a[name] !== b[name]) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}
