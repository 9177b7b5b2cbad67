import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopProcess } from '../../helpers/cli.js';
import { freeUdpPort } from '../../helpers/ports.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(HERE, 'build-wakaama.sh');
const SNAPSHOT = path.join(HERE, 'wakaama-fc4c431.tar.gz');

/** The snapshot's commit, for test titles (`Wakaama fc4c431 lwm2mclient: …`). */
export const WAKAAMA = 'Wakaama fc4c431 lwm2mclient';

/**
 * Builds `lwm2mclient` once per snapshot and script (a few seconds with cmake and a C compiler) into a
 * folder of the system's temp dir named by their hash; concurrent test files build apart and the first
 * finished binary is moved into place, so no test runs a half-copied file. Returns the binary, or why not.
 */
export function buildWakaama(binding: 'U' | 'UQ' = 'U'): { binary: string } | { skip: string } {
  for (const tool of ['cmake', 'make', 'cc']) {
    if (spawnSync('which', [tool], { stdio: 'ignore' }).status !== 0) {
      return { skip: `${tool} not found: apt-get install -y cmake build-essential` };
    }
  }
  const hash = createHash('sha256')
    .update(fs.readFileSync(SCRIPT))
    .update(fs.readFileSync(SNAPSHOT))
    .update(binding)
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(os.tmpdir(), `coregate-wakaama-${hash}`);
  const binary = path.join(dir, 'lwm2mclient');
  if (fs.existsSync(binary)) return { binary };
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'coregate-wakaama-build-'));
  try {
    const build = spawnSync('bash', [SCRIPT, scratch], {
      encoding: 'utf8',
      env: { ...process.env, WAKAAMA_BINDING: binding },
      timeout: 300_000,
    });
    if (build.status !== 0) return { skip: `build-wakaama.sh failed: ${build.stderr.slice(-500)}` };
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(binary)) fs.renameSync(path.join(scratch, 'lwm2mclient'), binary);
    return { binary };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** One running `lwm2mclient`; its console output is kept (`received bytes ignored!` and the like). */
export class Lwm2mClient {
  output = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly localPort: number,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** `-h host -p port -n ep -t lifetime -l localPort` (`-4` for an IPv4 server). */
  static async start(
    binary: string,
    options: { host: string; port: number; ep: string; lifetime: number; localPort?: number },
  ): Promise<Lwm2mClient> {
    const v4 = !options.host.includes(':');
    const localPort = options.localPort ?? (await freeUdpPort(v4 ? '127.0.0.1' : '::1'));
    const args = ['-h', options.host, '-p', String(options.port), '-n', options.ep, '-t', String(options.lifetime)];
    args.push('-l', String(localPort), ...(v4 ? ['-4'] : []));
    // stdin stays open: the client reads its console commands from it (`quit` deregisters).
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Lwm2mClient(child, localPort);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Datagrams the client dropped because they did not come from the server's address and port. */
  get ignored(): number {
    return this.output.split('received bytes ignored!').length - 1;
  }

  /** The console's `quit`: the client deregisters (DELETE of its registration), then exits. */
  async quit(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.write('quit\n');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await this.kill();
  }

  /** Dies without a word, as a device that loses power. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await stopProcess(this.child, 1_000);
  }
}
