import { deviceEventNames, removalReasons } from './constants.js';
import { deviceInfoSchema, type EventFrame, type TelemetryFrame } from './frames.js';

/**
 * Telemetry and device events are nearly every frame a hub takes (thousands a second per gateway), and zod
 * builds a checked copy of each (a zod parse of an event frame measured as ~10% of the hub's CPU per event).
 * A frame with exactly the schema's fields, each of the schema's type and range, is accepted as it is; anything
 * else (an unknown key, which zod would strip, a wrong type) goes to the schema in frames.ts, which stays the
 * contract and writes the error message. test/connector/fast-path.test.ts holds the two to the same verdict and
 * output.
 */

const TELEMETRY_KEYS = new Set(['type', 'seq', 'device', 'path', 'ct', 'value', 'encoding', 'ts']);
const EVENT_KEYS = new Set(['type', 'seq', 'name', 'device', 'reason', 'ts']);
const DEVICE_KEYS = new Set(Object.keys(deviceInfoSchema.shape));
const REGISTRATION_KEYS = new Set(['base', 'lt', 'et', 'attrs', 'updatedAt', 'expiresAt']);
const LINK_KEYS = new Set(['href', 'attrs']);
const EVENT_NAMES = new Set<unknown>(deviceEventNames);
const REASONS = new Set<unknown>(removalReasons);
const STATUSES = new Set<unknown>(deviceInfoSchema.shape.status.options);
const SOURCES = new Set<unknown>(deviceInfoSchema.shape.source.options);

type Raw = Record<string, unknown>;

const count = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);
const nullableString = (value: unknown): boolean => value === null || typeof value === 'string';
const id = (value: unknown): boolean => typeof value === 'string' && value.length >= 1 && value.length <= 256;

function only(raw: Raw, keys: ReadonlySet<string>): boolean {
  for (const key in raw) if (!keys.has(key)) return false;
  return true;
}

/** Link attributes: strings or `true`. A `__proto__` key is zod's to judge (its copy cannot hold one). */
function plainAttrs(value: unknown): boolean {
  if (!isObject(value)) return false;
  for (const key in value) {
    const attr = value[key];
    if (key === '__proto__' || (attr !== true && typeof attr !== 'string')) return false;
  }
  return true;
}

const plainLink = (value: unknown): boolean =>
  isObject(value) && only(value, LINK_KEYS) && typeof value.href === 'string' && plainAttrs(value.attrs);

/** Absent (undefined) and null are both allowed: older gateways send no registration. */
function plainRegistration(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return (
    isObject(value) &&
    only(value, REGISTRATION_KEYS) &&
    typeof value.base === 'string' &&
    count(value.lt) &&
    nullableString(value.et) &&
    plainAttrs(value.attrs) &&
    count(value.updatedAt) &&
    count(value.expiresAt)
  );
}

function plainDevice(value: unknown): boolean {
  if (!isObject(value) || !only(value, DEVICE_KEYS)) return false;
  const { resources, sleepy } = value;
  return (
    id(value.id) &&
    nullableString(value.ep) &&
    nullableString(value.d) &&
    typeof value.address === 'string' &&
    STATUSES.has(value.status) &&
    SOURCES.has(value.source) &&
    typeof value.registered === 'boolean' &&
    count(value.lastSeen) &&
    Array.isArray(resources) &&
    resources.every(plainLink) &&
    plainRegistration(value.registration) &&
    (sleepy === undefined || typeof sleepy === 'boolean')
  );
}

export function plainTelemetry(raw: Raw): TelemetryFrame | undefined {
  if (!only(raw, TELEMETRY_KEYS)) return undefined;
  const { device, ct, encoding } = raw;
  if (!count(raw.seq) || !count(raw.ts) || typeof raw.path !== 'string' || raw.value === undefined) return undefined;
  if (!id(device)) return undefined;
  if (ct !== null && !(count(ct) && ct <= 65535)) return undefined;
  if (encoding !== undefined && encoding !== 'base64') return undefined;
  return raw as TelemetryFrame;
}

export function plainEvent(raw: Raw): EventFrame | undefined {
  if (!only(raw, EVENT_KEYS) || !count(raw.seq) || !count(raw.ts) || !EVENT_NAMES.has(raw.name)) return undefined;
  if (raw.reason !== undefined && !REASONS.has(raw.reason)) return undefined;
  return plainDevice(raw.device) ? (raw as EventFrame) : undefined;
}
