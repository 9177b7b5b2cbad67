import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';

describe('event bus', () => {
  it('delivers to every listener even when one throws, and reports the failure', () => {
    const failures: string[] = [];
    const bus = new EventBus((_err, event) => failures.push(event));
    const seen: string[] = [];
    bus.on('telemetry', () => {
      throw new Error('listener bug');
    });
    const off = bus.on('telemetry', (t) => seen.push(t.path));
    bus.emit('telemetry', { device: 'a', path: '/t', ct: 50, value: 1, ts: 0 });
    off();
    bus.emit('telemetry', { device: 'a', path: '/u', ct: 50, value: 1, ts: 0 });
    expect(seen).toEqual(['/t']);
    expect(failures).toEqual(['telemetry', 'telemetry']);
  });
});
