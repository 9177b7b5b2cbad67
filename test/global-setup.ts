import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Suites that start real processes run the compiled CLI (dist/). `npm test` builds first and sets
 * COREGATE_BUILT; a bare `vitest run` builds here so those suites never run stale code.
 */
export default function setup(): void {
  if (process.env.COREGATE_BUILT === '1') return;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
