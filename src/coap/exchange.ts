import type { Endpoint } from './endpoint.js';
import type { Message } from './message.js';
import { decodeUint, findOption, OptionNumber, uintOption, type CoapOption } from './options.js';
import { CoapResetError, type CoapCode, type CoapReply, type Peer } from './types.js';

/** A request as the exchange layer sends it: code, options in any order, payload of at most one block. */
export interface OutgoingRequest {
  code: string;
  options: CoapOption[];
  payload: Buffer;
  confirmable: boolean;
}

export interface Received {
  message: Message;
  source: Peer;
}

/**
 * Sends `request` with a fresh token; CON is retransmitted until acknowledged (RFC 7252 §4.2), the Reset of
 * a CON rejects with CoapResetError, and a NON is sent once. Always resolves with the first response that
 * carries the token (RFC 7252 §5.3.2): piggybacked on the ACK, or separate after an empty ACK (§5.2.2).
 */
export function transmit(
  endpoint: Endpoint,
  peer: Peer,
  request: OutgoingRequest,
  token: Buffer,
  signal: AbortSignal,
): Promise<void> {
  const message: Message = {
    type: request.confirmable ? 'CON' : 'NON',
    code: request.code,
    messageId: endpoint.nextMessageId(peer),
    token,
    options: request.options,
    payload: request.payload,
  };
  if (!request.confirmable) return endpoint.send(peer, message);
  return endpoint.confirm(peer, message, signal).then((reply) => {
    if (reply.type === 'RST') throw new CoapResetError(`${peer.address}:${peer.port} answered with Reset`);
  });
}

/**
 * One request/response exchange; rejects with `signal.reason` when the caller's deadline passes. The blocks of
 * one block-wise transfer share a token: RFC 7959 allows it, and the `coap` package's server needs it for Block1.
 */
export function exchange(
  endpoint: Endpoint,
  peer: Peer,
  request: OutgoingRequest,
  signal: AbortSignal,
  token = endpoint.newToken(peer),
): Promise<Received> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    // Stops retransmitting once the response arrived, even when the ACK got lost (RFC 7252 §5.2.2).
    const transmission = new AbortController();
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      unregister();
      signal.removeEventListener('abort', onAbort);
      transmission.abort();
      outcome();
    };
    const onAbort = (): void => settle(() => reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    const unregister = endpoint.expect(peer, token, (message, source) => settle(() => resolve({ message, source })));
    transmit(endpoint, peer, request, token, transmission.signal).catch((error: unknown) => {
      if (!transmission.signal.aborted) settle(() => reject(error));
    });
  });
}

export function toReply({ message, source }: Received): CoapReply {
  return {
    code: message.code as CoapCode,
    contentFormat: uintOption(message.options, OptionNumber.contentFormat),
    payload: message.payload,
    maxAge: uintOption(message.options, OptionNumber.maxAge),
    observe: observeOf(message),
    etag: findOption(message.options, OptionNumber.etag),
    source,
  };
}

export function observeOf(message: Message): number | undefined {
  const value = findOption(message.options, OptionNumber.observe);
  return value === undefined ? undefined : decodeUint(value);
}
