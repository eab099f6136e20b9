export type Cell = string | number | null | undefined;

function format(cell: Cell): string {
  if (cell === null || cell === undefined) return '—';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return String(cell);
    const abs = Math.abs(cell);
    return abs >= 100 || Number.isInteger(cell) ? cell.toFixed(0) : abs >= 1 ? cell.toFixed(2) : cell.toPrecision(3);
  }
  return cell.replaceAll('|', '\\|');
}

/**
 * A GitHub-flavoured Markdown table, columns padded so it also reads well in a terminal.
 *
 * @example
 *   markdownTable(['backend', 'examples/s'], [['blas', 7209], ['cpu', 33]]);
 */
export function markdownTable(header: string[], rows: Cell[][]): string {
  const cells = [header, ...rows.map((row) => row.map(format))];
  const widths = header.map((_, c) => Math.max(3, ...cells.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => (cell ?? '').padEnd(widths[c])).join(' | ')} |`;
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}
