import { spawn, type ChildProcess } from 'node:child_process';
import { stopProcess } from '../../helpers/cli.js';
import { freeUdpPort } from '../../helpers/ports.js';
import { waitFor } from '../../helpers/wait.js';

export { WAKAAMA, wakaamaClient } from './client.js';

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

  /**
   * `-h host -p port -n ep -t lifetime -l localPort` (`-4` for an IPv4 server). The client binds the port it
   * is given: one found free can be taken by another process of a parallel suite before the client binds it
   * ("Address already in use"), so a client that fails to bind is started again on another port.
   */
  static async start(
    binary: string,
    options: { host: string; port: number; ep: string; lifetime: number },
  ): Promise<Lwm2mClient> {
    const v4 = !options.host.includes(':');
    for (let attempt = 1; ; attempt++) {
      const localPort = await freeUdpPort(v4 ? '127.0.0.1' : '::1');
      const args = ['-h', options.host, '-p', String(options.port), '-n', options.ep, '-t', String(options.lifetime)];
      args.push('-l', String(localPort), ...(v4 ? ['-4'] : []));
      // stdin stays open: the client reads its console commands from it (`quit` deregisters).
      const client = new Lwm2mClient(spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] }), localPort);
      // lwm2mclient.c prints this once its socket is bound, and exits when it cannot bind.
      await waitFor(() => client.output.includes('started on port') || !client.running, {
        what: `lwm2mclient bound to port ${localPort}`,
      });
      if (client.running) return client;
      if (attempt === 3) throw new Error(`lwm2mclient did not start:\n${client.output}`);
    }
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
