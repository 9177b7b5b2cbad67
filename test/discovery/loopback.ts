import dgram from 'node:dgram';
import { afterEach } from 'vitest';
import { freeUdpPort } from '../helpers/ports.js';

/** The loopback interface: every multicast datagram of these suites stays on it. */
export const LOOPBACK = '127.0.0.1';

/** A free UDP port on the wildcard address (several sockets then share it with reuseAddr). */
export const freeWildcardUdpPort = (): Promise<number> => freeUdpPort('0.0.0.0');

/**
 * Why IPv4 multicast over loopback does not work here (undefined when it does): joins `group` on
 * 127.0.0.1 and sends one datagram to itself through that interface.
 */
export async function loopbackMulticastProblem(group: string): Promise<string | undefined> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '0.0.0.0', () => resolve());
    });
    socket.addMembership(group, LOOPBACK);
    socket.setMulticastInterface(LOOPBACK);
    socket.setMulticastLoopback(true);
    const heard = new Promise<boolean>((resolve) => {
      socket.once('message', () => resolve(true));
      setTimeout(() => resolve(false), 1000);
    });
    socket.send('probe', socket.address().port, group);
    return (await heard) ? undefined : `no loopback delivery of ${group} on ${LOOPBACK}`;
  } catch (err) {
    return `multicast on ${LOOPBACK} not permitted here: ${(err as Error).message}`;
  } finally {
    socket.close();
  }
}

export { recordingLogger } from '../helpers/log.js';

/** Why `what` cannot run here, printed once (the suite then skips); undefined when multicast works. */
export async function multicastSkipReason(group: string, what: string): Promise<string | undefined> {
  const problem = await loopbackMulticastProblem(group);
  if (problem) console.warn(`skipping ${what}: ${problem}`);
  return problem;
}

/** Registers closers that run after each test, last opened first. */
export function closeAfterEach(): (close: () => unknown) => void {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  return (close) => void closers.push(close);
}
