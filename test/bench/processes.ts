import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stopProcess } from '../helpers/cli.js';

/**
 * The CLI processes a bench starts (hubs, gateways), each with its config file in the bench's scratch folder.
 * One that exits before the bench stops it ends the bench: its figures would be meaningless.
 */
export class BenchProcesses {
  private readonly children: ChildProcess[] = [];
  private stopping = false;

  constructor(
    private readonly dir: string,
    private readonly cli: string,
  ) {}

  start(name: string, args: string[], config: object): ChildProcess {
    const file = path.join(this.dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [this.cli, ...args, '-c', file], {
      cwd: this.dir,
      env: { ...process.env, LOG_LEVEL: 'warn', COREGATE_DISCOVERY: 'off' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      if (!this.stopping) {
        console.error(`${name} exited early (code ${code}, signal ${signal})`);
        process.exit(1);
      }
    });
    this.children.push(child);
    return child;
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.children.map((child) => stopProcess(child)));
  }

  /**
   * Runs a bench's `main` within `limitMs` (past it the bench gives up and exits 1), reports its failure as the
   * process's exit code, then stops every process it started and removes the scratch folder.
   */
  async run(name: string, limitMs: number, main: () => Promise<void>): Promise<void> {
    const watchdog = setTimeout(() => {
      console.error(`${name} bench: over ${limitMs / 1000} s, giving up`);
      void this.stopAll().then(() => process.exit(1));
    }, limitMs);
    try {
      await main();
    } catch (err) {
      console.error(`${name} bench failed: ${(err as Error).message}`);
      process.exitCode = 1;
    } finally {
      clearTimeout(watchdog);
      await this.stopAll();
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Polls `probe` until it gives a value (anything but undefined, so 0 counts) or `timeoutMs` passes. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
