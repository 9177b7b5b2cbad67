import { describe, expect, it } from 'vitest';
import { EndpointIndex } from '../../rd/endpoint-index.js';
import type { Registration } from '../../src/store/index.js';

const registration = (deviceId: string, ep: string, d: string | null, rt = 'temperature'): Registration => ({
  deviceId,
  ep,
  d,
  base: 'coap://127.0.0.1:5683',
  baseExplicit: false,
  lt: 90,
  et: null,
  attrs: {},
  links: [{ href: '/t', attrs: { rt } }],
  discovered: false,
  createdAt: 0,
  updatedAt: 0,
  expiresAt: 90_000,
});

describe('EndpointIndex', () => {
  it('finds every device of an endpoint name across sectors, as devices join and leave it', () => {
    const index = new EndpointIndex();
    const a = registration('a', 'node', null);
    const b = registration('b', 'node', 'sector-b');
    const c = registration('c', 'node', 'sector-c', 'light');
    index.add(a);
    expect([...index.withEndpoint('node')]).toEqual(['a']);
    index.add(b);
    index.add(c);
    expect([...index.withEndpoint('node')].sort()).toEqual(['a', 'b', 'c']);
    index.delete(a);
    index.delete(c);
    expect([...index.withEndpoint('node')]).toEqual(['b']);
    // Re-adding the one left holds it once.
    index.add(b);
    expect([...index.withEndpoint('node')]).toEqual(['b']);
    expect([...index.withResourceType('temperature')].sort()).toEqual(['b']);
    index.delete(b);
    expect([...index.withEndpoint('node')]).toEqual([]);
    expect([...index.withResourceType('temperature')]).toEqual([]);
  });
});
