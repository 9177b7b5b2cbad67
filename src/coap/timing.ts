/** RFC 7252 §4.8 transmission parameters; the client accepts overrides for tests and lossy links. */
export interface TransmissionTiming {
  ackTimeoutMs: number;
  ackRandomFactor: number;
  maxRetransmit: number;
}

export const DEFAULT_TIMING: TransmissionTiming = { ackTimeoutMs: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 };

/** RFC 7252 §4.8.2 MAX_TRANSMIT_SPAN: first to last transmission of one CON (45 s by default). */
export const maxTransmitSpanMs = (t: TransmissionTiming): number =>
  t.ackTimeoutMs * (2 ** t.maxRetransmit - 1) * t.ackRandomFactor;

/** RFC 7252 §4.8.2 MAX_TRANSMIT_WAIT: first transmission until the sender gives up (93 s by default). */
export const maxTransmitWaitMs = (t: TransmissionTiming): number =>
  t.ackTimeoutMs * (2 ** (t.maxRetransmit + 1) - 1) * t.ackRandomFactor;

/** RFC 7252 §4.2: the first timeout is random between ACK_TIMEOUT and ACK_TIMEOUT * ACK_RANDOM_FACTOR. */
export const initialTimeoutMs = (t: TransmissionTiming): number =>
  t.ackTimeoutMs * (1 + Math.random() * (t.ackRandomFactor - 1));

// RFC 7252 §4.8.2 MAX_LATENCY; PROCESSING_DELAY is taken as ACK_TIMEOUT, as the RFC does.
const MAX_LATENCY_MS = 100_000;

/** RFC 7252 §4.8.2 EXCHANGE_LIFETIME: how long a message id stays in use (247 s by default). */
export const exchangeLifetimeMs = (t: TransmissionTiming): number =>
  maxTransmitSpanMs(t) + 2 * MAX_LATENCY_MS + t.ackTimeoutMs;

/**
 * Calls `onExpire` once `ms` have passed, never earlier: libuv measures timers from the loop's cached time,
 * which lags under load, so an early expiry is re-armed for what is left (by the monotonic clock).
 */
export function deadlineTimer(ms: number, onExpire: () => void): { clear(): void } {
  const deadline = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const check = (): void => {
    const remaining = deadline - performance.now();
    if (remaining > 0) timer = setTimeout(check, Math.ceil(remaining));
    else onExpire();
  };
  timer = setTimeout(check, ms);
  return { clear: () => clearTimeout(timer) };
}
