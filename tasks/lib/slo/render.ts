/** The SLO monitor's output: a table for people, the journal rows, and the Markdown report with charts. Pure. */
import { clockText } from '../config/signal-duration.ts';
import { num } from '../signals/gates.ts';
import type { Signals } from '../config/signals.ts';
import { unitOf } from '../signals/reducers.ts';
import type { Evaluation, GateSetResult, SourceStats, WindowValues } from '../signals/types.ts';
import { xyChart } from '../signals/report/charts.ts';
import { mdTable } from '../signals/report/write.ts';

export const VERDICT_TEXT: Record<Evaluation['verdict'], string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', inconclusive: 'INCONCLUSIVE' };
const MARK: Record<Evaluation['verdict'], string> = { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail', inconclusive: '❔ inconclusive' };

export function valueText(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return 'no data';
  return unit === '%' ? `${num(v)}%` : unit ? `${num(v)} ${unit}` : num(v);
}

/** One row per gate: GATE VERDICT VALUE BASELINE THRESHOLD CLOCK SAMPLES, then the why. */
export function evaluationTable(r: GateSetResult): string {
  const head = ['GATE', 'VERDICT', 'VALUE', 'BASELINE', 'THRESHOLD', 'CLOCK', 'SAMPLES'];
  const rows = r.evaluations.map((e) => [
    e.gate,
    VERDICT_TEXT[e.verdict],
    valueText(e.value, e.unit),
    e.baselineCohort ? `${valueText(e.baseline, e.unit)} (${e.baselineCohort})` : '-',
    e.threshold,
    e.clock || '-',
    String(e.samples),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (c: readonly string[]) => `  ${c.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  const whys = r.evaluations.map((e) => `  ${e.gate}: ${e.why}`);
  return [line(head), ...rows.map(line), '', ...whys].join('\n');
}

export function headline(env: string, r: GateSetResult, decision: string, values: WindowValues): string {
  const n = (v: Evaluation['verdict']) => r.evaluations.filter((e) => e.verdict === v);
  const named = (v: Evaluation['verdict'], word: string) => (n(v).length ? `${n(v).length} ${word}: ${n(v).map((e) => e.gate).join(', ')}` : '');
  const parts = [named('fail', 'failing'), named('inconclusive', 'inconclusive'), named('warn', 'warning')].filter(Boolean);
  const minutes = clockText(values.window.to - values.window.from);
  const who = r.baselineCohort ? `${r.cohort} vs ${r.baselineCohort}` : r.cohort;
  return `${env}: ${decision} for ${who} over the last ${minutes}: ${r.evaluations.length} gates${parts.length ? `; ${parts.join('; ')}` : ', all pass'}`;
}

export function sourcesLine(sources: Readonly<Record<string, SourceStats>>): string {
  return Object.entries(sources)
    .map(([name, s]) => (s.unavailable ? `${name}: UNAVAILABLE (${s.unavailable})` : `${name}: ${s.records} records in the window, ${s.lines} lines read, ${s.malformed} malformed${s.malformedAt.length ? ` (first at ${s.malformedAt[0]})` : ''}`))
    .join('; ');
}

export interface JournalRow {
  readonly label: string;
  readonly at: string;
  readonly values: Readonly<Record<string, number | null>>;
  readonly decision: string;
  readonly notes: string;
}

/** The seed's journal: H0 baseline, then one row per checkpoint reached (H+1, H+4, H+8, H+24). */
export function journalRow(label: string, r: GateSetResult, values: WindowValues, metrics: readonly string[], decision: string): JournalRow {
  const cohort = values.cohorts[r.cohort] ?? {};
  const notes = r.evaluations.filter((e) => e.verdict !== 'pass').map((e) => `${e.gate} ${VERDICT_TEXT[e.verdict]}`).join(', ');
  return { label, at: r.at, values: Object.fromEntries(metrics.map((m) => [m, cohort[m]?.value ?? null])), decision, notes: notes || 'all gates pass' };
}

export interface PointInTime {
  readonly at: number;
  /** metric -> value */
  readonly values: Readonly<Record<string, number | null>>;
}

/** Charts: each quantile, errorRate and share metric that a gate judges, with the gate's thresholds. */
export function charts(signals: Pick<Signals, 'metrics' | 'gates'>, points: readonly PointInTime[]): string[] {
  if (points.length < 2) return [];
  const labels = points.map((p) => new Date(p.at).toISOString().slice(11, 16));
  const out: string[] = [];
  for (const [name, m] of Object.entries(signals.metrics)) {
    if (!['quantile', 'errorRate', 'share', 'mean', 'rate'].includes(m.kind)) continue;
    const gates = signals.gates.filter((g) => g.metric === name);
    if (!gates.length) continue;
    const thresholds = gates.flatMap((g) => [
      ...(g.max !== undefined ? [{ name: `${g.name} max`, value: g.max }] : []),
      ...(g.min !== undefined ? [{ name: `${g.name} min`, value: g.min }] : []),
      ...(g.range ? [{ name: `${g.name} low`, value: g.range[0] }, { name: `${g.name} high`, value: g.range[1] }] : []),
      ...(g.warn?.max !== undefined ? [{ name: `${g.name} warn`, value: g.warn.max }] : []),
    ]);
    out.push('', `### ${name}`, '', ...xyChart({ title: `${name} over time`, unit: unitOf(m), labels, values: points.map((p) => p.values[name] ?? null), thresholds }));
  }
  return out;
}

export interface SloReport {
  readonly env: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly decision: string;
  readonly headline: string;
  readonly result: GateSetResult;
  readonly values: WindowValues;
  readonly journal: readonly JournalRow[];
  readonly points: readonly PointInTime[];
}

export function sloMarkdown(signals: Pick<Signals, 'metrics' | 'gates'>, r: SloReport): string {
  const metrics = Object.keys(r.journal[0]?.values ?? {});
  const unit = (m: string) => (signals.metrics[m] ? unitOf(signals.metrics[m]!) : '');
  const lines = [
    `# SLO monitor of ${r.env}: ${r.decision}`,
    '',
    `- Started: ${r.startedAt}`,
    `- Finished: ${r.finishedAt}`,
    `- Window: ${new Date(r.values.window.from).toISOString()} .. ${new Date(r.values.window.to).toISOString()}`,
    `- Cohort: ${r.result.cohort}${r.result.baselineCohort ? ` (baseline: ${r.result.baselineCohort})` : ''}`,
    `- Decision: **${r.decision}**`,
    '',
    '## Summary',
    '',
    `- ${r.headline}`,
    `- Sources: ${sourcesLine(r.values.sources)}`,
    '',
    '## Gates',
    '',
    ...mdTable(
      ['Gate', 'Value', 'Baseline', 'Threshold', 'Verdict', 'Clock', 'Samples', 'Why'],
      r.result.evaluations.map((e) => [e.gate, valueText(e.value, e.unit), e.baselineCohort ? valueText(e.baseline, e.unit) : '-', e.threshold, MARK[e.verdict], e.clock, e.samples, e.why]),
    ),
  ];
  if (r.journal.length)
    lines.push(
      '',
      '## Journal',
      '',
      ...mdTable(['Checkpoint', 'Time (UTC)', ...metrics, 'Decision', 'Notes'], r.journal.map((j) => [j.label, j.at.slice(0, 16).replace('T', ' '), ...metrics.map((m) => valueText(j.values[m], unit(m))), j.decision, j.notes])),
    );
  const pictures = charts(signals, r.points);
  if (pictures.length) lines.push('', '## Over time', ...pictures);
  lines.push('', '## Decision', '', `**${r.decision}**`, '');
  return lines.join('\n');
}
