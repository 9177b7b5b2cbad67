/**
 * One shared copy of the strings thousands of devices repeat in their links (`/sensors/temp`, `rt="temperature"`,
 * `if="core.s"`). A parsed string is a slice of the payload it came from and keeps that payload alive; every
 * device held its own slices and payloads, about a kilobyte per registration. Interned strings are flat copies,
 * the table is bounded (a string seen when it is full is returned as it came), and only short strings qualify.
 */

const MAX_ENTRIES = 16_384;
const MAX_LENGTH = 128;
const table = new Map<string, string>();

export function intern(value: string): string {
  if (value.length > MAX_LENGTH) return value;
  const known = table.get(value);
  if (known !== undefined) return known;
  if (table.size >= MAX_ENTRIES) return value;
  // A flat copy that refers to no parent string (V8 keeps a slice as a view of the whole payload); JSON
  // round-trips every string exactly, lone surrogates included.
  const flat = JSON.parse(JSON.stringify(value)) as string;
  table.set(flat, flat);
  return flat;
}
