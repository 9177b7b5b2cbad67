import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { stopProcess } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/wait.js';

/** For test titles: the peer and its version. */
export const LIBCOAP = 'libcoap 4.3.1';

export function libcoapMissing(): string | undefined {
  for (const tool of ['coap-server-notls', 'coap-client-notls']) {
    if (spawnSync('which', [tool], { stdio: 'ignore' }).status !== 0) {
      return `${tool} not found (apt-get install libcoap3-bin)`;
    }
  }
  return undefined;
}

/** One datagram libcoap logged at `-v 7`: direction, the peer's port, and the PDU line. */
export interface Logged {
  direction: 'received' | 'sent';
  peerPort: number;
  pdu: string;
}

/**
 * libcoap's `coap-server-notls` as a device, with its debug log (`-v 7`) kept: every datagram it receives or
 * sends is logged with the peer's address and port and the decoded PDU, which is the wire as the device saw it.
 * It serves `/time` (observable, a notification every second with Max-Age 1) and `/example_data` (GET/PUT).
 */
export class LibcoapDevice {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    this.output = '';
    const child = spawn('coap-server-notls', ['-A', this.host, '-p', String(this.port), '-v', '7'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child = child;
    await waitFor(() => this.output.includes('created UDP  endpoint') || child.exitCode !== null, {
      what: 'coap-server-notls listening',
      timeoutMs: 5_000,
    });
    if (child.exitCode !== null) throw new Error(`coap-server-notls exited: ${this.output}`);
  }

  /** Dies at once (SIGKILL), as a device that loses power: no deregistration, no last notification. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 1_000);
    this.child = undefined;
  }

  /** The datagrams of the current run, as libcoap logged them. */
  datagrams(): Logged[] {
    const found: Logged[] = [];
    const pattern = /<-> \S+?:(\d+) \(if\d+\) UDP : (received|sent) \d+ bytes\n(v:1 [^\n]*)/g;
    for (const match of this.output.matchAll(pattern)) {
      found.push({ peerPort: Number(match[1]), direction: match[2] as Logged['direction'], pdu: match[3]! });
    }
    return found;
  }
}
