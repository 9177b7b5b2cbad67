import { spawnSync } from 'node:child_process';

/** Debian's prometheus package puts promtool here; .ci/run installs it. */
export const PROMTOOL = '/usr/bin/promtool';

/** `promtool check metrics` on an exposition: its exit status and what it said (empty when clean). */
export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/**
 * The value of one sample in a text exposition: `name` with exactly these labels (in any order), or undefined.
 * Only what the tests read: no escaping inside label values.
 */
export function sample(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (given === wanted) return Number(match[3]);
  }
  return undefined;
}
