import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench`: runs each benchmark in its own process, one after the other, so that one's
 * sockets, memory and CPU never colour another's figures. Each prints its own table with its baseline.
 * `npm run bench -- --quick` (or BENCH_QUICK=1) runs shorter phases and smaller fleets; names pick benches.
 */
const BENCHES = ['gateway', 'fleet', 'hub-events', 'rd', 'workers', 'observer', 'platform', 'limits', 'broker'];

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
if (args.includes('--quick')) process.env.BENCH_QUICK = '1';
const only = args.filter((arg) => arg !== '--quick');
const chosen = only.length > 0 ? BENCHES.filter((name) => only.includes(name)) : BENCHES;

function runOne(name: string): Promise<number> {
  const script = path.join(here, `${name}.js`);
  if (!fs.existsSync(script)) {
    console.log(`\n## ${name}: not built (${script} missing)`);
    return Promise.resolve(1);
  }
  console.log(`\n## ${name}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', script], { stdio: 'inherit' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

const started = Date.now();
const failures: string[] = [];
for (const name of chosen) {
  if ((await runOne(name)) !== 0) failures.push(name);
}
console.log(
  `\nbenchmarks finished in ${((Date.now() - started) / 1000).toFixed(0)} s${failures.length ? `; failed: ${failures.join(', ')}` : ''}`,
);
process.exitCode = failures.length ? 1 : 0;
