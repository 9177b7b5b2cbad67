/** Limits, close codes and the closed vocabularies of the platform link (docs/protocol.md). */

/** Largest frame either side accepts (UTF-8 bytes); a larger one is answered with an `error` frame. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/**
 * The WebSocket layer's own limit (ws `maxPayload`), above MAX_FRAME_BYTES so that an oversized frame
 * reaches the parser and gets a named `error` instead of a 1009 close; past this one ws closes with 1009.
 */
export const WS_MAX_PAYLOAD_BYTES = 16 * MAX_FRAME_BYTES;
/** What one part of a snapshot holds at most (UTF-8 bytes of its devices), well within MAX_FRAME_BYTES. */
export const SNAPSHOT_PART_BYTES = 256 * 1024;
/** Devices one `refresh` frame names at most (about 100 bytes each, far within MAX_FRAME_BYTES). */
export const MAX_REFRESHES_PER_FRAME = 2000;

/** WebSocket close codes of the link (RFC 6455 §7.4.2: 4000–4999 are the application's). */
export const closeCodes = {
  normal: 1000,
  /** The hub is shutting down or restarting. */
  goingAway: 1001,
  /** Unknown gateway id or wrong HMAC. */
  badCredentials: 4001,
  /** No `hello` within the handshake window. */
  handshakeTimeout: 4002,
  /** A newer session of the same gateway id took over. */
  replaced: 4003,
  /** A frame the handshake cannot go on with (e.g. `hello` is not the first frame). */
  protocolError: 4008,
  /** Another gateway (another store, see `hello.instance`) with the same id is connected. */
  duplicateGateway: 4009,
} as const;
export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];

/** Codes of `error` frames: what was wrong with the frame the peer sent. */
export const protocolErrorCodes = [
  'invalid_json',
  'invalid_frame',
  'unknown_type',
  'frame_too_large',
  'binary_frame',
  'unexpected_frame',
  /** A `cancel` names a command the gateway does not hold. */
  'unknown_command',
] as const;
export type ProtocolErrorCode = (typeof protocolErrorCodes)[number];

// The vocabularies frames share with the gateway's core, defined there once.
export { COMMAND_ERROR_CODES as commandErrorCodes, QUEUED_STATUSES as commandStatuses } from '../../src/command.js';
export { COAP_METHODS as coapMethods } from '../../src/coap/types.js';
export { DEVICE_EVENTS as deviceEventNames, REMOVAL_REASONS as removalReasons } from '../../src/events.js';
