import { spawn, type ChildProcess } from 'node:child_process';
import { CoapClient } from '../../src/coap/client.js';
import { silentLogger } from '../../src/log.js';
import { freeUdpPort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

export interface LibcoapServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts libcoap's `coap-server-notls` on `address` (loopback) and waits until it answers pings there. */
export async function startLibcoapServer(extraArgs: string[] = [], address = '127.0.0.1'): Promise<LibcoapServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const child = spawn('coap-server-notls', ['-A', address, '-p', String(port), '-v', '0', ...extraArgs], {
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const probe = new CoapClient({ log: silentLogger(), timing: { ackTimeoutMs: 100 } });
    try {
      await waitFor(() => child.exitCode === null && probe.ping(address, port, 500), {
        timeoutMs: 5000,
        what: 'coap-server-notls',
      });
      return { port, stop: () => stopChild(child, exited) };
    } catch (error) {
      await stopChild(child, exited);
      if (attempt === 2) throw error;
    } finally {
      await probe.close();
    }
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}
