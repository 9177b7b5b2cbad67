/** A response code in RFC 7252 dotted form, e.g. `2.05`, `4.04`. */
export type CoapCode = `${1 | 2 | 3 | 4 | 5}.${number}${number}`;

/** The request methods, in the order of their codes 0.01 to 0.07 (RFC 7252 §12.1.1, RFC 8132 §6). */
export const COAP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'] as const;
export type CoapMethod = (typeof COAP_METHODS)[number];

/** Content-Format numbers this project names (RFC 7252 §12.3, RFC 8428, RFC 9176). */
export const ContentFormat = {
  text: 0,
  linkFormat: 40,
  octetStream: 42,
  json: 50,
  cbor: 60,
  senmlJson: 110,
  senmlCbor: 112,
  lwm2mTlv: 11542,
  lwm2mJson: 11543,
} as const;

export interface Peer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** A request as a handler sees it: already parsed, validated and reassembled (Block1). */
export interface CoapRequest {
  method: CoapMethod;
  /** Uri-Path segments, decoded; `[]` for the root. */
  path: string[];
  /** Uri-Query items as sent, decoded (`ep=node1`, `obs`). */
  query: string[];
  contentFormat: number | undefined;
  accept: number | undefined;
  observe: number | undefined;
  payload: Buffer;
  source: Peer;
  /** True when the request was sent to a multicast address (RFC 7252 §8). */
  multicast: boolean;
  /**
   * RFC 7252 §5.2.2: acknowledges a CON at once with an empty ACK; the handler's response then goes as a
   * separate CON. For handlers that first talk to the requester (simple registration, RFC 9176 §5.1).
   */
  acknowledge?: () => void;
}

export interface CoapResponse {
  code: CoapCode;
  payload?: Buffer | string;
  contentFormat?: number;
  locationPath?: string[];
  locationQuery?: string[];
  maxAge?: number;
  etag?: Buffer;
}

export type CoapHandler = (request: CoapRequest) => CoapResponse | Promise<CoapResponse>;

/**
 * An error that renders as a CoAP response (aiocoap's typed errors): handlers throw it,
 * the server turns it into `code` with `message` as a short diagnostic payload (RFC 7252 §5.5.2).
 * Any other exception becomes a bare 5.00 whose text stays in the log, never on the wire.
 */
export class CoapError extends Error {
  override name = 'CoapError';
  constructor(
    readonly code: CoapCode,
    message = '',
    readonly maxAge?: number,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): CoapError => new CoapError('4.00', message);
/** Every 4.xx the RD sends says what was wrong in a short diagnostic payload (RFC 7252 §5.5.2). */
export const notFound = (message: string): CoapError => new CoapError('4.04', message);

/** What the gateway's CoAP client is asked to do (src/coap/client.ts implements CoapClientApi). */
export interface CoapRequestOptions {
  host: string;
  port: number;
  method: CoapMethod;
  /** Absolute path, e.g. `/sensors/temp`; split into Uri-Path options by the client. */
  path: string;
  query?: string[];
  payload?: Buffer | string;
  contentFormat?: number;
  accept?: number;
  /** Default true (CON). */
  confirmable?: boolean;
  /** Deadline for the whole exchange, retransmissions and block-wise transfer included. */
  timeoutMs?: number;
}

export interface CoapReply {
  code: CoapCode;
  contentFormat: number | undefined;
  payload: Buffer;
  maxAge: number | undefined;
  observe: number | undefined;
  etag: Buffer | undefined;
  source: Peer;
}

/** Rejection reason of a request whose deadline passed (RFC 7252 §4.8 timing, capped by the caller's deadline). */
export class CoapTimeoutError extends Error {
  override name = 'CoapTimeoutError';
}

/** The peer answered with Reset (RFC 7252 §4.2): it received the message but could not process it. */
export class CoapResetError extends Error {
  override name = 'CoapResetError';
}

/** The datagram could not be sent (no route, bad address) or the client was closed meanwhile. */
export class CoapTransportError extends Error {
  override name = 'CoapTransportError';
}

export interface ObservationEnd {
  reason: 'cancelled' | 'rejected' | 'timeout' | 'reset' | 'not-observable';
  reply?: CoapReply;
}

export interface Observation {
  /** Deregisters properly (RFC 7641 §3.6: GET with Observe=1), then stops delivering. */
  cancel(): Promise<void>;
  /** Settles once the registration is answered (or the stream ended): from then on cancel() can name it. */
  answered(): Promise<void>;
  /** Resolves when the stream ends on its own: error reply, Reset, timeout; with the reason. */
  readonly ended: Promise<ObservationEnd>;
}

/**
 * Receives an observation's notifications and its end, with the observation they belong to: a long-lived owner
 * (the Observer's task) is its streams' listener with no closure or pending promise per stream. A plain
 * function receives the notifications only.
 */
export type ObservationListener =
  | ((reply: CoapReply) => void)
  | {
      notified(reply: CoapReply, observation: Observation): void;
      ended(end: ObservationEnd, observation: Observation): void;
    };

export interface CoapClientApi {
  request(options: CoapRequestOptions): Promise<CoapReply>;
  /** CoAP ping (RFC 7252 §4.3): empty CON answered by RST. Resolves true when answered in time. */
  ping(host: string, port: number, timeoutMs: number): Promise<boolean>;
  observe(options: CoapRequestOptions, listener: ObservationListener): Observation;
  /** NON request to a multicast group; every reply until `waitMs` is passed to `onReply`. */
  multicast(
    options: CoapRequestOptions & { waitMs: number; interface?: string },
    onReply: (reply: CoapReply) => void,
  ): Promise<void>;
  close(): Promise<void>;
}
