// One benchmark result beside its baseline, and an aligned text table of them.

export interface Row {
  name: string
  mbps: number
  baselineMbps: number
  /** mbps / baselineMbps */
  ratio: number
  note?: string
}

/** unit names what mbps and baselineMbps hold (MB/s unless a table says otherwise, e.g. files/s). */
export function printTable (title: string, rows: Row[], unit = 'MB/s'): void {
  const withNotes = rows.some((row) => row.note !== undefined)
  const header = ['case', unit, `baseline ${unit}`, 'ratio', ...(withNotes ? ['note'] : [])]
  const cells = rows.map((row) => [
    row.name,
    figure(row.mbps),
    figure(row.baselineMbps),
    row.ratio.toFixed(2),
    ...(withNotes ? [row.note ?? ''] : [])
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  // Text columns (case, note) align left, numbers right.
  const line = (c: string[]) => c.map((s, i) => (i === 0 || i === 4 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ').trimEnd()
  console.log(`\n${title}`)
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const c of cells) console.log(line(c))
}

/** Three significant digits for small figures (µs, seconds), whole numbers above 100. */
function figure (value: number): string {
  if (value >= 100) return value.toFixed(0)
  return value >= 10 ? value.toFixed(1) : value.toFixed(2)
}
