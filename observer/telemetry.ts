import { decodePayload } from '../src/coap/content-format.js';
import type { CoapReply } from '../src/coap/types.js';
import type { Telemetry } from '../src/events.js';

/** One reply as one telemetry event, its payload decoded by Content-Format (DESIGN "Payloads"). */
export function toTelemetry(device: string, path: string, reply: CoapReply, ts = Date.now()): Telemetry {
  const { value, encoding } = decodePayload(reply.contentFormat, reply.payload, path);
  return { device, path, ct: reply.contentFormat ?? null, value, ...(encoding ? { encoding } : {}), ts };
}
