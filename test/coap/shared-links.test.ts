import { describe, expect, it } from 'vitest';
import { sharedAttrs, SharedLinks } from '../../src/coap/shared-links.js';
import type { Link } from '../../src/coap/link-format.js';

/** A fresh copy each call, as each event frame parses into fresh objects. */
const temp = (): Link[] => [
  { href: '/sensors/temp', attrs: { rt: 'temperature', obs: true } },
  { href: '/cfg', attrs: {} },
];
const led = (): Link[] => [{ href: '/actuators/led', attrs: { rt: 'light' } }];

describe('SharedLinks', () => {
  it('gives devices with equal links one frozen list, equal to what they sent', () => {
    const links = new SharedLinks();
    const a = links.of(temp());
    expect(a).toEqual(temp());
    expect(Object.isFrozen(a) && Object.isFrozen(a[0]) && Object.isFrozen(a[0]!.attrs)).toBe(true);
    const other = links.of(led());
    expect(other).toEqual(led());
    // Equal to the last list returned, and equal to one returned before it (the table's lookup).
    expect(links.of(led())).toBe(other);
    expect(links.of(temp())).toBe(a);
  });

  it("keeps a device's own list while it is unchanged, and gives a changed one its new content", () => {
    const links = new SharedLinks();
    const before = links.of(temp());
    links.of(led());
    expect(links.of(temp(), before)).toBe(before);
    const changed = temp();
    changed[0]!.attrs.rt = 'temperature-c';
    const after = links.of(changed, before);
    expect(after).toEqual(changed);
    expect(before).toEqual(temp());
  });

  it('shares one empty attributes object', () => {
    expect(sharedAttrs({})).toBe(sharedAttrs({}));
    expect(sharedAttrs({ rt: 'x', obs: true })).toEqual({ rt: 'x', obs: true });
  });
});
