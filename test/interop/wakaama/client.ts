import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(HERE, 'build-wakaama.sh');

/** Wakaama's snapshot id, as tests name it in their titles (docs/architecture.md, interop tests). */
export const WAKAAMA = 'Wakaama fc4c431 lwm2mclient';

export type Binding = 'U' | 'UQ';

/**
 * Builds (once per snapshot and script, cached in the temp dir) Wakaama's example client with `binding`;
 * the path of the binary, or why it cannot be had here (no cmake or compiler): the caller skips with that reason.
 */
export function wakaamaClient(binding: Binding): { path: string } | { skip: string } {
  for (const tool of ['cmake', 'make', 'cc']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      return { skip: `${tool} not found (apt-get install -y cmake build-essential)` };
    }
  }
  const hash = crypto.createHash('sha256');
  for (const file of ['build-wakaama.sh', 'wakaama-fc4c431.tar.gz'])
    hash.update(fs.readFileSync(path.join(HERE, file)));
  const out = path.join(os.tmpdir(), `coregate-wakaama-${hash.digest('hex').slice(0, 12)}-${binding}`);
  const binary = path.join(out, 'lwm2mclient');
  if (fs.existsSync(binary)) return { path: binary };
  // Test files run in parallel: each builds into a scratch folder and the binary is renamed into place
  // (atomic), so no process ever runs a half-copied file.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-wakaama-build-'));
  try {
    const built = execFileSync('bash', [SCRIPT, scratch], {
      env: { ...process.env, WAKAAMA_BINDING: binding },
      encoding: 'utf8',
    });
    fs.mkdirSync(out, { recursive: true });
    fs.renameSync(built.trim().split('\n').at(-1)!, binary);
    return { path: binary };
  } catch (err) {
    return { skip: `build-wakaama.sh failed: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export interface WakaamaProcess {
  child: ChildProcess;
  /** Everything the client printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs the client against the server at 127.0.0.1:`serverPort` from `localPort`. Its stdin stays open:
 * the example client reads commands from it and would busy-loop on EOF.
 */
export function runWakaama(
  binary: string,
  options: { serverPort: number; localPort: number; endpoint: string; lifetime: number },
): WakaamaProcess {
  const args = ['-4', '-h', '127.0.0.1', '-p', String(options.serverPort), '-l', String(options.localPort)];
  args.push('-n', options.endpoint, '-t', String(options.lifetime));
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => text,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
