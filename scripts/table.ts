/** Prints rows of objects as an aligned Markdown table (what `npm run bench` shows). */
export function formatTable(rows: Record<string, unknown>[], title?: string): string {
  if (rows.length === 0) return title ? `${title}\n(no rows)` : '(no rows)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v.toPrecision(3)) : String(v ?? ''));
  const body = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  return [title ? `\n${title}\n` : '', line(cols), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}
