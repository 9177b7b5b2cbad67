/** Prints rows as a Markdown table, columns padded, so a run's output goes into the README as it is. */
export function printTable(header: string[], rows: string[][]): void {
  const cellsOf = (row: string[]): string[] => header.map((_, i) => row[i] ?? '');
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((row) => cellsOf(row)[i]!.length)));
  const format = (row: string[]): string =>
    `| ${cellsOf(row)
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join(' | ')} |`;
  console.log(format(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const row of rows) console.log(format(row));
}

/** `met` or `MISSED`, for a target column. */
export const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');
