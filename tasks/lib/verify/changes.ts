/** What changed between two verify rounds (--watch): a check whose verdict or value class moved, appeared or went. */
import { VERDICT_LABEL } from './table.ts';
import type { CheckRow } from './types.ts';

export interface Change {
  readonly host: string;
  readonly check: string;
  readonly before: CheckRow | null;
  readonly after: CheckRow | null;
}

const key = (r: CheckRow) => `${r.host}\u0000${r.check}`;

/** In the order of `next`, then the rows that disappeared in the order of `prev`. */
export function changesBetween(prev: readonly CheckRow[], next: readonly CheckRow[]): Change[] {
  const before = new Map(prev.map((r) => [key(r), r]));
  const after = new Set(next.map(key));
  const out: Change[] = [];
  for (const r of next) {
    const b = before.get(key(r));
    if (!b || b.verdict !== r.verdict || b.valueClass !== r.valueClass) out.push({ host: r.host, check: r.check, before: b ?? null, after: r });
  }
  for (const r of prev) if (!after.has(key(r))) out.push({ host: r.host, check: r.check, before: r, after: null });
  return out;
}

/** `host1 health: ok -> FAIL (200, version v1.1.0 -> no answer: connection refused (ECONNREFUSED))` */
export function describeChange(c: Change): string {
  const head = `${c.host} ${c.check}`;
  if (!c.before) return `${head}: new, ${VERDICT_LABEL[c.after!.verdict]} (${c.after!.value})`;
  if (!c.after) return `${head}: no longer checked (was ${VERDICT_LABEL[c.before.verdict]}: ${c.before.value})`;
  const v = c.before.verdict === c.after.verdict ? VERDICT_LABEL[c.after.verdict] : `${VERDICT_LABEL[c.before.verdict]} -> ${VERDICT_LABEL[c.after.verdict]}`;
  return `${head}: ${v} (${c.before.value} -> ${c.after.value})`;
}
