import { setTimeout as sleep } from 'node:timers/promises';
import { isIPv4 } from 'node:net';
import type { Logger } from '../log.js';
import { Endpoint } from './endpoint.js';
import { toReply, transmit, type OutgoingRequest } from './exchange.js';
import { resolvePeer } from './peer.js';
import type { TransmissionTiming } from './timing.js';
import type { CoapReply } from './types.js';

export interface MulticastOptions {
  host: string;
  port: number;
  waitMs: number;
  /** Address of the interface the request leaves through (IPv4 address, or `::%ifname` for IPv6). */
  interface?: string;
  log: Logger;
  timing: TransmissionTiming;
}

/**
 * RFC 7252 §8.1: a NON request to a group, answered by any number of servers (each reply matched by token,
 * from any source) until `waitMs` passes. A socket of its own keeps the group's interface choice and its
 * stray late replies away from unicast traffic.
 */
export async function multicastRequest(
  options: MulticastOptions,
  request: OutgoingRequest,
  onReply: (reply: CoapReply) => void,
  signal: AbortSignal,
): Promise<void> {
  const { log, timing } = options;
  const endpoint = new Endpoint({ log, timing, bind: isIPv4(options.host) ? '0.0.0.0' : '::', port: 0 });
  try {
    await endpoint.open();
    if (options.interface !== undefined) await endpoint.setMulticastInterface(options.interface);
    const group = await resolvePeer(options.host, options.port);
    const token = endpoint.newToken(undefined);
    endpoint.expect(undefined, token, { response: (message, source) => onReply(toReply({ message, source })) });
    await transmit(endpoint, group, { ...request, confirmable: false }, token, signal);
    await sleep(options.waitMs, undefined, { signal }).catch(() => undefined);
  } finally {
    await endpoint.close();
  }
}
