import type { Command } from '../src/command.js';
import { COAP_METHODS, type CoapMethod } from '../src/coap/types.js';

const METHODS: ReadonlySet<string> = new Set<CoapMethod>(COAP_METHODS);
/** RFC 7252 §5.10: Uri-Path and Uri-Query options are 0–255 bytes each. */
const MAX_OPTION_BYTES = 255;

const isUint16 = (value: unknown): boolean =>
  Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffff;
const fitsOption = (text: string): boolean => Buffer.byteLength(text, 'utf8') <= MAX_OPTION_BYTES;

/** Why a command cannot be sent as a CoAP request, or undefined when it can. */
export function commandProblem(command: Command): string | undefined {
  if (typeof command.device !== 'string' || command.device === '') return 'device must be a non-empty string';
  if (!METHODS.has(command.method)) return `method must be one of ${[...METHODS].join(', ')}`;
  if (typeof command.path !== 'string' || !command.path.startsWith('/')) return 'path must start with /';
  if (/[?#]/.test(command.path)) return 'path must not contain ? or # (use query)';
  if (!command.path.split('/').every(fitsOption)) return `path segments must be at most ${MAX_OPTION_BYTES} bytes`;
  if (command.query !== undefined) {
    if (!Array.isArray(command.query) || !command.query.every((q) => typeof q === 'string' && fitsOption(q))) {
      return `query must be a list of strings of at most ${MAX_OPTION_BYTES} bytes`;
    }
  }
  if (command.payload !== undefined && !Buffer.isBuffer(command.payload)) return 'payload must be bytes';
  if (command.ct !== undefined && !isUint16(command.ct)) return 'ct must be a Content-Format number 0..65535';
  if (command.accept !== undefined && !isUint16(command.accept))
    return 'accept must be a Content-Format number 0..65535';
  if (command.timeout !== undefined && !(Number.isFinite(command.timeout) && command.timeout > 0)) {
    return 'timeout must be a positive number of milliseconds';
  }
  return undefined;
}
