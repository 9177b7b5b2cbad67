import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Suites that start real processes run the compiled CLI (dist/). `npm test` builds first and sets
 * COREGATE_BUILT; a bare `vitest run` builds here so those suites never run stale code.
 * Type errors do not stop the emit; `npm run check` is where they fail the build.
 */
export default function setup(): void {
  if (process.env.COREGATE_BUILT === '1') return;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) {
    const errors = build.stdout.split('\n').filter((line) => line.includes('error TS')).length;
    console.warn(
      `global-setup: tsc reported ${errors} type error(s); tests run on the emitted JS (npm run check lists them)`,
    );
  }
}
