/**
 * How deeply a JSON value (a frame of the platform link, an HTTP body, the configuration) may nest. JSON.parse
 * takes any depth, but JSON.stringify, structuredClone and the validators recurse: a 100,000-deep payload ended
 * as a RangeError (500) instead of a 400, a 5,000-deep configuration as "Maximum call stack size exceeded".
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests arrays or objects more than `max` levels deep; iterative, so any depth is safe to check. */
export function nestedDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
