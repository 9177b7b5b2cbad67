import { describe, expect, it } from 'vitest';
import { DeviceHistory } from '../../connector/hub/history.js';

describe('DeviceHistory telemetry points', () => {
  it('keeps the last pointsPerSeries points in order, whatever the count (the ring grows as points arrive)', () => {
    for (const count of [0, 1, 7, 8, 9, 17, 100, 239, 240, 241, 500, 1000]) {
      const history = new DeviceHistory({ eventsPerDevice: 5, pointsPerSeries: 240, pathsPerDevice: 4, maxSeries: 10 });
      const sent: Array<[number, number]> = [];
      for (let i = 0; i < count; i++) {
        const point: [number, number] = [1_795_000_000_000 + i, i * 0.5];
        sent.push(point);
        history.record('telemetry/d1/sensors/temp', {
          device: 'd1',
          path: '/sensors/temp',
          ct: 50,
          value: point[1],
          ts: point[0],
        });
      }
      const series = history.series('d1');
      expect({ count, points: series[0]?.points ?? [] }).toEqual({ count, points: sent.slice(-240) });
    }
  });

  it('holds a capacity smaller than the first ring', () => {
    const history = new DeviceHistory({ eventsPerDevice: 5, pointsPerSeries: 3, pathsPerDevice: 4, maxSeries: 10 });
    for (let i = 0; i < 10; i++)
      history.record('telemetry/d1/x', { device: 'd1', path: '/x', ct: null, value: i, ts: i });
    expect(history.series('d1')[0]!.points).toEqual([
      [7, 7],
      [8, 8],
      [9, 9],
    ]);
  });
});
