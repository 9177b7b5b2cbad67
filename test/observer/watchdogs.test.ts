import { describe, expect, it } from 'vitest';
import { Watchdogs, type Watched } from '../../observer/watchdogs.js';

/** A watched that records when it was told, and runs `then` once from quiet() (a task re-arms from there). */
function recorder(log: string[], name: string, then?: () => void): Watched & { at: number[] } {
  const watched = {
    at: [] as number[],
    quiet: () => {
      watched.at.push(performance.now());
      log.push(name);
      const next = then;
      then = undefined;
      next?.();
    },
  };
  return watched;
}

const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('Watchdogs: many deadlines on one timer per length', () => {
  it('tells each in deadline order, never early; a re-armed one counts from its re-arm, a disarmed one never', async () => {
    const watchdogs = new Watchdogs();
    const log: string[] = [];
    let armedAt = 0;
    const { a, c, d } = await new Promise<Record<'a' | 'c' | 'd', { at: number[] }>>((resolve) => {
      const a = recorder(log, 'a');
      const b = recorder(log, 'b');
      const c = recorder(log, 'c');
      // d re-arms itself on the same length when first told: it comes again after a.
      const d: Watched & { at: number[] } = recorder(log, 'd', () => watchdogs.arm(d, 40));
      const last = recorder(log, 'last', () => resolve({ a, c, d }));
      armedAt = performance.now();
      for (const watched of [a, b, c, d]) watchdogs.arm(watched, 40);
      watchdogs.arm(last, 200);
      watchdogs.disarm(b, 40);
      setTimeout(() => watchdogs.arm(a, 40), 20);
    });
    // b was disarmed: 'last' came at 200 ms, long after b's 40 ms deadline.
    expect(log).toEqual(['c', 'd', 'a', 'd', 'last']);
    expect(c.at[0]! - armedAt).toBeGreaterThanOrEqual(40);
    expect(a.at[0]! - armedAt).toBeGreaterThanOrEqual(60);
    expect(d.at[1]! - d.at[0]!).toBeGreaterThanOrEqual(40);
  });

  it('holds one timer per length while armed and none once every watched is disarmed', () => {
    const watchdogs = new Watchdogs();
    const before = timers();
    const watched = [recorder([], 'x'), recorder([], 'y'), recorder([], 'z')];
    for (const w of watched) watchdogs.arm(w, 60_000);
    watchdogs.arm(watched[0]!, 60_000);
    expect(timers()).toBe(before + 1);
    for (const w of watched) watchdogs.disarm(w, 60_000);
    expect(timers()).toBe(before);
  });
});
