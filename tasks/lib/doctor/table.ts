import type { CheckRow } from './checks.ts';

const LABEL = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

/** A plain-text table: host, check, verdict, why (why last, so long text wraps harmlessly). */
export function renderTable(rows: readonly CheckRow[]): string {
  const cells = rows.map((r) => [r.host, r.check, LABEL[r.verdict], r.why]);
  const head = ['HOST', 'CHECK', 'RESULT', 'DETAIL'];
  const widths = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}
