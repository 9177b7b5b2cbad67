/**
 * Whether an event name matches a subscription pattern (docs/api.md "Event names"):
 * `*` matches every event; a pattern ending in `*` matches names that start with what precedes it
 * (`device.*`); any other pattern matches itself and the names below it (`telemetry` matches `telemetry/abc`).
 */
export function matches(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === name) return true;
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return name.startsWith(`${pattern}/`);
}

export function matchesAny(patterns: Iterable<string>, name: string): boolean {
  for (const pattern of patterns) if (matches(pattern, name)) return true;
  return false;
}
