/** Small statistics for benchmarks: medians and ratios, never means of noisy samples. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

export interface Row {
  readonly name: string;
  readonly median: number;
  readonly samples: number;
  readonly note?: string;
}

/** Prints rows side by side with their ratio to the first (the baseline). */
export function table(title: string, rows: readonly Row[], unit: (v: number) => string = fmtMs): string {
  const base = rows[0]!.median;
  const w = Math.max(...rows.map((r) => r.name.length));
  const lines = [`\n${title}`, `  ${'run'.padEnd(w)}  ${'median'.padStart(9)}  ${'ratio'.padStart(6)}  n   note`];
  for (const r of rows) lines.push(`  ${r.name.padEnd(w)}  ${unit(r.median).padStart(9)}  ${(r.median / base).toFixed(2).padStart(6)}  ${String(r.samples).padEnd(3)} ${r.note ?? ''}`);
  return lines.join('\n');
}

export interface Verdict {
  readonly target: string;
  readonly ok: boolean;
  readonly measured: string;
}

export function verdictLine(v: Verdict): string {
  return `  ${v.ok ? 'MET ' : 'MISS'}  ${v.target}: ${v.measured}`;
}

/** The task processes a bench starts inherit NODE_OPTIONS: `npm run bench` sets it from the repository's .npmrc, as `npx tsx` does for an operator. */
export function nodeOptionsNote(): string {
  return `NODE_OPTIONS ${process.env.NODE_OPTIONS ? `"${process.env.NODE_OPTIONS}"` : 'unset: not run through npm, so not as an operator runs it'}`;
}
