import type { SenmlRecord } from '../senml.js';
import { formatLwm2mPath, isUnder, parseLwm2mPath } from './path.js';
import { resourcesOf } from './tlv.js';
import { Lwm2mFormatError } from './value.js';

/**
 * Resources by path (or a bare value for a single resource) → SenML records with LwM2M paths as names
 * (OMA-TS-LightweightM2M_Core-V1_1 §7.4.4: `n` carries the path; opaque in `vd`, object links in `vlo`).
 */
export function senmlFromResources(value: unknown, requestPath: string): Array<SenmlRecord & { vlo?: string }> {
  const path = parseLwm2mPath(requestPath) ?? [];
  return Object.entries(resourcesOf(value, path)).map(([key, item]) => {
    const at = parseLwm2mPath(key);
    if (at === undefined || at.length < 3 || !isUnder(at, path)) {
      throw new Lwm2mFormatError(`${key} is not a resource under ${formatLwm2mPath(path)}`);
    }
    const n = formatLwm2mPath(at);
    if (typeof item === 'number') return { n, v: item };
    if (typeof item === 'boolean') return { n, vb: item };
    if (typeof item === 'string') return { n, vs: item };
    if ('opaque' in item) return { n, vd: Buffer.from(item.opaque, 'base64').toString('base64url') };
    return { n, vlo: item.objlnk };
  });
}
