/**
 * LwM2M paths (OMA-TS-LightweightM2M_Core-V1_1 §7.1: Object ID / Object Instance ID / Resource ID /
 * Resource Instance ID, each a 16-bit number; instance ids stop at 65534 since 65535 is reserved).
 */
export type Lwm2mPath = number[];

const MAX_ID = 65535;

/** `/3/0/1` → [3, 0, 1]; undefined for anything that is not an LwM2M path of 0..4 numeric segments. */
export function parseLwm2mPath(text: string): Lwm2mPath | undefined {
  const trimmed = text.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return [];
  const segments = trimmed.split('/');
  if (segments.length > 4) return undefined;
  const ids = segments.map((segment) => (/^[0-9]{1,5}$/.test(segment) ? Number(segment) : NaN));
  return ids.every((id) => id <= MAX_ID) ? ids : undefined;
}

export function formatLwm2mPath(path: Lwm2mPath): string {
  return `/${path.join('/')}`;
}

/** Whether `path` is `prefix` or lies under it. */
export function isUnder(path: Lwm2mPath, prefix: Lwm2mPath): boolean {
  return prefix.length <= path.length && prefix.every((id, i) => path[i] === id);
}
