import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/**
 * Preloaded into a process the bench measures as shipped (`node --import probe.js dist/src/app/cli.js start`):
 * the process's own code is untouched; over the IPC channel of `fork` it answers `probe` with its
 * event-loop delay since the last probe (perf_hooks.monitorEventLoopDelay), CPU time, RSS and heap,
 * `gc` with the same after a full collection (when run with --expose-gc), `snapshot` with a heap snapshot's path.
 */

export interface ProbeReport {
  /** Event-loop delay since the previous report, ms. */
  loopP99Ms: number;
  loopMaxMs: number;
  cpuMs: number;
  rss: number;
  /** Highest RSS the kernel saw for the process (VmHWM), bytes. */
  peakRss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /**
   * Time the main thread was runnable but waiting for a CPU, since it started (ms, /proc/self/schedstat):
   * on a shared machine the part of the event-loop delay that is not the process's own doing.
   */
  runQueueMs: number;
  snapshot?: string;
}

// Worker threads inherit the preload: only the main thread reports (it reads the whole process's /proc figures).
if (process.send !== undefined && isMainThread) {
  // 1 ms resolution: the stalls the bench looks for are above 10 ms.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const peakRss = (): number =>
    Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  const runQueueMs = (): number => Number(fs.readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  const report = (extra: Partial<ProbeReport> = {}): ProbeReport => {
    const { user, system } = process.cpuUsage();
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    const figures: ProbeReport = {
      loopP99Ms: delay.count > 0 ? delay.percentile(99) / 1e6 : 0,
      loopMaxMs: delay.count > 0 ? delay.max / 1e6 : 0,
      cpuMs: (user + system) / 1000,
      rss,
      peakRss: peakRss(),
      heapUsed,
      heapTotal,
      external,
      runQueueMs: runQueueMs(),
      ...extra,
    };
    delay.reset();
    return figures;
  };
  process.on('message', (message: unknown) => {
    if (message === 'probe') process.send?.(report());
    if (message === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.(report());
    }
    if (message === 'snapshot')
      process.send?.(
        report({
          snapshot: v8.writeHeapSnapshot(path.join(os.tmpdir(), `coregate-${process.pid}-${Date.now()}.heapsnapshot`)),
        }),
      );
  });
  // The channel must not keep the process alive once it has stopped everything of its own.
  process.channel?.unref();
}
