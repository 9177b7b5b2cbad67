import type { Endpoint, ResponseListener } from './endpoint.js';
import type { Message } from './message.js';
import { methodCode } from './message.js';
import {
  decodeUint,
  encodeUint,
  findOption,
  OptionNumber,
  pathSegments,
  stringOptions,
  uintOption,
  type CoapOption,
} from './options.js';
import { CoapResetError, type CoapCode, type CoapReply, type CoapRequestOptions, type Peer } from './types.js';

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

const EMPTY_PAYLOAD = Buffer.alloc(0);

/** Turns the caller's view of a request into options (RFC 7252 §5.10) and the method code. */
export function outgoingRequest(options: CoapRequestOptions): OutgoingRequest {
  // A path typed with its query (`/a?x=1&y`) is split as RFC 7252 §6.4 splits a URI.
  const [path = '', inlineQuery] = options.path.split(/\?(.*)/s, 2);
  const query = [...(inlineQuery ? inlineQuery.split('&').map(decodeURIComponent) : []), ...(options.query ?? [])];
  const list: CoapOption[] = [
    ...stringOptions(OptionNumber.uriPath, pathSegments(path)),
    ...stringOptions(OptionNumber.uriQuery, query),
  ];
  if (options.contentFormat !== undefined) {
    list.push({ number: OptionNumber.contentFormat, value: encodeUint(options.contentFormat) });
  }
  if (options.accept !== undefined) list.push({ number: OptionNumber.accept, value: encodeUint(options.accept) });
  // One shared empty payload rather than an ArrayBuffer per request (an observation rebuilds its request to deregister).
  const payload = options.payload ?? EMPTY_PAYLOAD;
  return {
    code: methodCode(options.method),
    options: list,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
    confirmable: options.confirmable ?? true,
  };
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
      endpoint.forget(peer, token, listener);
      signal.removeEventListener('abort', onAbort);
      transmission.abort();
      outcome();
    };
    const onAbort = (): void => settle(() => reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    const listener: ResponseListener = { response: (message, source) => settle(() => resolve({ message, source })) };
    endpoint.expect(peer, token, listener);
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
