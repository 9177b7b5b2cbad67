// @ts-check
/** Small DOM and formatting helpers shared by the views. */

/**
 * Creates an element with attributes and children; strings become text nodes (never parsed as HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | undefined | null | EventListener>} [attrs]
 * @param {Array<Node | string | number | null | undefined | false>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') node.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'object' ? child : String(child));
  }
  return node;
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' });

/**
 * "12 s ago", "3 min. ago", "yesterday": how long ago `ts` (ms since the epoch) was.
 * @param {number} ts
 */
export function ago(ts, now = Date.now()) {
  if (!ts) return '—';
  const seconds = Math.round((ts - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86_400), 'day');
}

/**
 * A `<time>` showing how long ago `ts` was, with the exact time as its title; refreshTimes() keeps it current.
 * @param {number | null | undefined} ts
 */
export function timeAgo(ts) {
  if (!ts) return el('span', { class: 'muted' }, ['—']);
  const date = new Date(ts);
  return el('time', { datetime: date.toISOString(), title: date.toLocaleString(), 'data-ts': ts }, [ago(ts)]);
}

/** Rewrites every relative time under `root` (called on a clock tick, no request involved). */
export function refreshTimes(root = document.body) {
  const now = Date.now();
  for (const node of root.querySelectorAll('time[data-ts]'))
    node.textContent = ago(Number(node.getAttribute('data-ts')), now);
}

/**
 * A status as colour and text: the text carries the meaning, the colour helps the eye.
 * @param {string} status
 */
export function statusBadge(status) {
  return el('span', { class: `status status-${/^[a-z]+$/.test(status) ? status : 'unknown'}` }, [status]);
}

/** SenML units (RFC 8428 §12.1) and a few common ones, as people write them. */
const UNITS = {
  Cel: '°C',
  '%RH': '% RH',
  '%': '%',
  lx: 'lx',
  Pa: 'Pa',
  hPa: 'hPa',
  V: 'V',
  A: 'A',
  W: 'W',
  m: 'm',
  s: 's',
};

/**
 * The number a telemetry value carries and its unit, when it has one: a number, an object with a number field
 * (`{"temperature": 21.5, "unit": "Cel"}`), or a SenML pack (RFC 8428: the first record with `v`).
 * @param {unknown} value
 * @returns {{ number: number, unit: string } | undefined}
 */
export function numberOf(value) {
  if (typeof value === 'number' && Number.isFinite(value)) return { number: value, unit: '' };
  if (Array.isArray(value)) {
    const record = value.find((r) => r && typeof r === 'object' && typeof r.v === 'number');
    return record ? { number: record.v, unit: unitName(record.u) } : undefined;
  }
  if (value && typeof value === 'object') {
    const object = /** @type {Record<string, unknown>} */ (value);
    const field = Object.values(object).find((v) => typeof v === 'number' && Number.isFinite(v));
    if (typeof field === 'number') return { number: field, unit: unitName(object.unit ?? object.u) };
  }
  return undefined;
}

/** @param {unknown} unit */
function unitName(unit) {
  return typeof unit === 'string' ? (UNITS[/** @type {keyof typeof UNITS} */ (unit)] ?? unit) : '';
}

const numbers = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

/**
 * A telemetry value as a person reads it: "21.5 °C", "on", or compact JSON.
 * @param {unknown} value
 * @param {string | undefined} [encoding]
 */
export function formatValue(value, encoding) {
  if (encoding === 'base64') return `${String(value).length} base64 chars`;
  const numeric = numberOf(value);
  if (
    numeric &&
    (typeof value === 'number' || Array.isArray(value) || Object.keys(/** @type {object} */ (value)).length <= 2)
  ) {
    return `${numbers.format(numeric.number)}${numeric.unit ? ` ${numeric.unit}` : ''}`;
  }
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** `1234` → "1,234". @param {number} n */
export function count(n) {
  return numbers.format(n);
}

/** Content-Format numbers by name (IANA CoAP Content-Formats registry). */
export const CONTENT_FORMATS = {
  0: 'text/plain',
  40: 'application/link-format',
  42: 'application/octet-stream',
  50: 'application/json',
  60: 'application/cbor',
  110: 'application/senml+json',
  112: 'application/senml+cbor',
};

/** @param {number | null | undefined} ct */
export function contentFormatName(ct) {
  if (ct === null || ct === undefined) return 'none';
  return `${ct} (${CONTENT_FORMATS[/** @type {keyof typeof CONTENT_FORMATS} */ (ct)] ?? 'unregistered here'})`;
}
