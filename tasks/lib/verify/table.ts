/** Plain-text tables for people: one per host; the why last, so long text wraps harmlessly. */
import type { CheckRow, HostVerdict, Verdict } from './types.ts';

export const VERDICT_LABEL: Readonly<Record<Verdict, string>> = { ok: 'ok', warn: 'WARN', fail: 'FAIL' };
const HEAD = ['CHECK', 'VERDICT', 'VALUE', 'THRESHOLD', 'WHY'] as const;

/** The rows of one host, under a `name (address)` line; continuation lines of a why are indented to its column. */
export function renderHostTable(host: Pick<HostVerdict, 'name' | 'address'>, rows: readonly CheckRow[]): string {
  const cells = rows.map((r) => [r.check, VERDICT_LABEL[r.verdict], r.value, r.threshold, r.why]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(HEAD[i]!.length, ...cells.map((c) => c[i]!.length)));
  const whyAt = 2 + widths.reduce((a, w) => a + w + 2, 0);
  const line = (c: readonly string[]) => {
    const [first, ...more] = c[4]!.split('\n');
    const head = `  ${c
      .slice(0, 4)
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')}  ${first}`.trimEnd();
    return [head, ...more.map((m) => `${' '.repeat(whyAt)}${m.trimStart()}`)].join('\n');
  };
  const title = host.address ? `${host.name} (${host.address})` : host.name;
  return [title, line(HEAD), ...cells.map(line)].join('\n');
}

export function renderTables(hosts: readonly HostVerdict[]): string {
  return hosts
    .filter((h) => h.rows.length > 0)
    .map((h) => renderHostTable(h, h.rows))
    .join('\n\n');
}
