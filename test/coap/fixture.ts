import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { CoapClient, type CoapClientOptions } from '../../src/coap/client.js';
import { CoapTimeoutError } from '../../src/coap/types.js';
import { silentLogger } from '../../src/log.js';
import { startLibcoapServer, type LibcoapServer } from './libcoap.js';
import { rawPeerPool } from './raw-peer.js';
import { libcoapServerMissing } from '../helpers/tools.js';

/**
 * What a client test file needs, closed after each test (clients, raw peers) or after the file (libcoap):
 * short retransmission timers keep unanswered cases quick; the logic is the same as with RFC defaults.
 */
export function clientFixture(options: { libcoapArgs?: string[] } = {}) {
  const clients = new Set<CoapClient>();
  const pool = rawPeerPool();
  let libcoap: LibcoapServer | undefined;
  // Without libcoap the suites that use it skip (libcoapServerMissing); the rest of the file runs.
  if (options.libcoapArgs !== undefined && libcoapServerMissing() === undefined) {
    const args = options.libcoapArgs;
    beforeAll(async () => {
      libcoap = await startLibcoapServer(args);
    });
    afterAll(async () => {
      await libcoap?.stop();
    });
  }
  afterEach(async () => {
    await Promise.all([...clients].map((client) => client.close()));
    clients.clear();
    await pool.closeAll();
  });
  return {
    rawPeer: pool.start,
    newClient(overrides: Partial<CoapClientOptions> = {}): CoapClient {
      const client = new CoapClient({ log: silentLogger(), timing: { ackTimeoutMs: 100 }, ...overrides });
      clients.add(client);
      return client;
    },
    get libcoapPort(): number {
      if (libcoap === undefined) throw new Error('this fixture runs no libcoap server');
      return libcoap.port;
    },
  };
}

/** `pending` must reject with CoapTimeoutError, and not before its deadline (no upper bound: the machine is shared). */
export async function expectTimeoutAtDeadline(start: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const started = performance.now();
  const outcome = await start().then(
    () => 'resolved',
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(CoapTimeoutError);
  expect(performance.now() - started).toBeGreaterThanOrEqual(timeoutMs);
}
