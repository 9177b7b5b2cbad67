import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logActivity } from '../../src/app/activity-log.js';
import { EventBus } from '../../src/events.js';

function capture(level: string): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

const value = (i: number) => ({ device: `d${i}`, path: '/sensors/temp', ct: 50, value: { t: i }, ts: i });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => vi.useRealTimers());

describe('activity log', () => {
  it('logs the first 20 values of a second at info, the rest at debug, and counts them in a summary every 10 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const bus = new EventBus();
    const { log, lines } = capture('debug');
    const stop = logActivity(bus, log);
    for (let i = 0; i < 100; i++) bus.emit('telemetry', value(i));
    await flush();
    const telemetry = lines.filter((line) => line.device !== undefined);
    expect(telemetry.filter((line) => line.level === 30)).toHaveLength(20);
    expect(telemetry.filter((line) => line.level === 20)).toHaveLength(80);
    vi.advanceTimersByTime(10_000);
    await flush();
    expect(lines.at(-1)).toMatchObject({ level: 30, event: 'telemetry', unlogged: 80 });
    stop();
  });

  it('does the same for device events, and puts lifetime refreshes at debug', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const bus = new EventBus();
    const { log, lines } = capture('debug');
    const stop = logActivity(bus, log);
    const device = (i: number) => ({
      id: `d${i}`,
      ep: `ep${i}`,
      d: null,
      address: '127.0.0.1:5683',
      status: 'online' as const,
      source: 'registration' as const,
      registered: true,
      lastSeen: i,
      resources: [],
    });
    bus.emit('device.updated', { device: device(0), refresh: true });
    for (let i = 0; i < 30; i++) bus.emit('device.registered', { device: device(i) });
    await flush();
    const events = lines.filter((line) => line.device !== undefined);
    expect(events[0]).toMatchObject({ level: 20, event: 'device.updated' });
    expect(events.filter((line) => line.event === 'device.registered' && line.level === 30)).toHaveLength(20);
    expect(events.filter((line) => line.event === 'device.registered' && line.level === 20)).toHaveLength(10);
    vi.advanceTimersByTime(10_000);
    await flush();
    expect(lines.at(-1)).toMatchObject({ level: 30, event: 'device', unlogged: 10 });
    stop();
  });

  it('shows a handful of devices every value at info, as npm start does', async () => {
    const bus = new EventBus();
    const { log, lines } = capture('info');
    const stop = logActivity(bus, log);
    for (let i = 0; i < 5; i++) bus.emit('telemetry', value(i));
    await flush();
    expect(lines.map((line) => line.device)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    stop();
  });
});
