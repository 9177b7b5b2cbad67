import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stopProcess } from '../helpers/cli.js';
import type { ProbeReport } from './probe.js';

/**
 * A `coregate` command run as users run it (the compiled CLI, the config file as the only input), with the
 * probe preloaded for the figures only the process itself can give. `BENCH_CPU_PROF=DIR` writes a
 * `--cpu-prof` profile of every thread of every such process into DIR/<name>/.
 */

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled CLI beside this compiled bench (dist/test/bench → dist/src/app). */
const cli = path.resolve(here, '../../src/app/cli.js');

const probe = pathToFileURL(path.join(here, 'probe.js')).href;

export interface Shipped {
  readonly child: ChildProcess;
  readonly pid: number;
  probe(): Promise<ProbeReport>;
  /** The probe's report after a full garbage collection. */
  gc(): Promise<ProbeReport>;
  snapshot(): Promise<string>;
  stop(): Promise<void>;
}

export function startShipped(name: string, args: string[], config: object, dir: string): Shipped {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  const profile = process.env.BENCH_CPU_PROF;
  const child = fork(cli, [...args, '-c', file], {
    cwd: dir,
    execArgv: [
      '--expose-gc',
      '--import',
      probe,
      ...(profile
        ? // A folder per process: Node names each thread's profile (CPU.<date>.<pid>.<thread>.…), so the embedded hub's
          // thread writes its own file beside the main thread's.
          ['--cpu-prof', `--cpu-prof-dir=${path.join(profile, name)}`]
        : []),
    ],
    // The gateway logs every registration and value at info (its default): to /dev/null, as a service's journal would take it.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited early (code ${code}, signal ${signal})`);
  });
  const ask = (message: string): Promise<ProbeReport> =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name} is gone`));
      child.once('message', (report: ProbeReport) => resolve(report));
      child.send(message);
    });
  return {
    child,
    pid: child.pid!,
    probe: () => ask('probe'),
    gc: () => ask('gc'),
    snapshot: async () => (await ask('snapshot')).snapshot!,
    async stop() {
      stopping = true;
      await stopProcess(child, 15_000);
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
export function cpuSecondsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** RSS now and the highest so far (VmHWM) of any process, bytes. */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

export const MB = 1024 * 1024;
export const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;
/** Quick mode (`npm run bench -- --quick` or BENCH_QUICK=1): shorter phases, smaller fleets. */
export const QUICK = process.env.BENCH_QUICK === '1';
