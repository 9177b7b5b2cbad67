import type { ChildProcess } from 'node:child_process';
import { startCli, stopProcess } from './cli.js';
import { waitFor } from './wait.js';

/** A long-running `coregate` process and everything it logged so far (JSON lines, stdout and stderr). */
export class LoggedProcess {
  readonly child: ChildProcess;
  private text = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = startCli(args, env);
    this.child.stdout!.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.text += chunk.toString()));
  }

  get log(): string {
    return this.text;
  }

  /** Waits until `pattern` matches the log and returns its first group as a number (a port). */
  async number(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<number> {
    return waitFor(
      () => {
        const match = pattern.exec(this.text);
        return match ? Number(match[1]) : undefined;
      },
      { what: `${what} (log so far:\n${this.text.slice(-2000)})`, timeoutMs },
    );
  }

  async waitForLog(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => pattern.test(this.text), { what, timeoutMs });
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}

/** The patterns of the gateway's and hub's own log lines that name their ports. */
export const logPorts = {
  rd: /resource directory listening on udp \S+ port (\d+)/,
  hub: /"port":(\d+),"tls":\w+,"msg":"hub listening"/,
  metrics: /"port":(\d+),"msg":"metrics on http/,
};
