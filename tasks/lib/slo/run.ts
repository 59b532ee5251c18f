/**
 * The body of tasks/slo.ts: the gates over the last window (once), or every interval (--watch)
 * with the journal's checkpoints filled in by itself; a table, GO / NO-GO / INCONCLUSIVE, a report.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, type LoadedEnvironment } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { newRunId } from '../base/run.ts';
import { runnerFor } from '../runners/for-host.ts';
import type { Runner } from '../runners/types.ts';
import { environmentHosts } from '../verify/hosts.ts';
import type { Host } from '../config/schema.ts';
import type { Signals } from '../config/signals.ts';
import type { CohortSpec } from '../signals/aggregate.ts';
import { collectOnce } from '../signals/collect.ts';
import { clockText } from '../config/signal-duration.ts';
import { signalsOf } from '../signals/environment.ts';
import { cohortSpec, sloFlags, type SloFlags } from './flags.ts';
import { decision, evaluateGateSet } from '../signals/evaluate.ts';
import { Monitor, replayFile } from '../signals/monitor.ts';
import { openSources } from '../signals/sources/open.ts';
import type { GateSetResult, WindowValues } from '../signals/types.ts';
import { writeSignalsReport } from '../signals/report/write.ts';
import { evaluationTable, headline, journalRow, sloMarkdown, sourcesLine, type JournalRow, type PointInTime } from './render.ts';

export async function sloTask(args: ParsedArgs): Promise<ExitCode> {
  let flags = sloFlags(args);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const base = signalsOf(env);
  const signals: Signals = flags.windowMs ? { ...base, window: flags.windowMs } : base;
  if (flags.journal && flags.checkpoints) throw new UsageError('give --checkpoints LIST or --journal (the configured checkpoints), not both');
  if (flags.journal) flags = { ...flags, checkpoints: signals.slo.checkpoints };
  const cohorts = cohortSpec(signals, flags, env.file);
  const judge = { cohort: flags.cohort ?? 'all', ...(flags.baseline ? { baseline: flags.baseline } : {}) };
  const out = (t: string) => process.stdout.write(`${t}\n`);
  const note = (t: string) => (flags.json ? process.stderr : process.stdout).write(`${t}\n`);
  const runId = newRunId();
  const startedAt = new Date().toISOString();

  if (flags.file) {
    const rounds = await replayFile(signals, flags.file, { cohorts, judge: [judge], interval: flags.watchMs ?? signals.interval });
    const last = rounds.at(-1);
    if (!last) throw new UsageError(`--file ${flags.file}: no record with a time in it`);
    const points = rounds.map((r) => point(r.now, r.values, judge.cohort));
    return finish(env, signals, { runId, startedAt, result: last.results[0]!, values: last.values, journal: [], points }, flags, out, note);
  }

  const hosts = await environmentHosts(env);
  const runners = new Map<string, Runner>();
  const runner = (h: Host) => runners.get(h.name) ?? runners.set(h.name, runnerFor(env, h)).get(h.name)!;
  const ac = new AbortController();
  const onSignal = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const sources = openSources(signals, { hosts, runnerFor: runner, signal: ac.signal });
    const watching = flags.watchMs !== undefined || flags.checkpoints !== undefined;
    if (!watching) {
      try {
        return await once({ env, signals, sources, cohorts, judge, flags, signal: ac.signal, run: { runId, startedAt }, out, note });
      } catch (err) {
        if (ac.signal.aborted) return ExitCode.interrupted;
        throw err;
      }
    }
    return await watch({ env, signals, sources, cohorts, judge, flags, signal: ac.signal, run: { runId, startedAt }, out, note });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await Promise.all([...runners.values()].map((r) => r.close()));
  }
}

/** What one run of the monitor works with (once or watching). */
interface Monitoring {
  readonly env: LoadedEnvironment;
  readonly signals: Signals;
  readonly sources: ReturnType<typeof openSources>;
  readonly cohorts: CohortSpec;
  readonly judge: { cohort: string; baseline?: string };
  readonly flags: SloFlags;
  readonly signal: AbortSignal;
  readonly run: { runId: string; startedAt: string };
  readonly out: (t: string) => void;
  readonly note: (t: string) => void;
}

/** One run: the window (with the clocks judged on the log's past when a gate has `for`). */
async function once(o: Monitoring): Promise<ExitCode> {
  const { env, signals, sources, cohorts, judge, flags, signal, run, out, note } = o;
  const now = Date.now();
  // one interval more than the longest clock: a breach older than it can be seen to be longer
  const longest = Math.max(0, ...signals.gates.map((g) => g.for ?? 0));
  const history = flags.since === undefined && longest > 0 ? longest + signals.interval : 0;
  if (history > 0) return finish(env, signals, { ...run, ...(await withHistory(signals, sources, cohorts, judge, now, history, signal)) }, flags, out, note);
  const window = { from: flags.since ?? now - signals.window, to: now };
  const bucketMs = Math.max(60_000, Math.ceil((window.to - window.from) / 15 / 60_000) * 60_000);
  const c = await collectOnce(signals, sources, { window, cohorts, bucketMs, signal });
  const result = evaluateGateSet({ signals, values: c.values, ...judge, now });
  const points = c.buckets.map((b) => ({ at: b.at, values: Object.fromEntries(Object.entries(b.cohorts[judge.cohort] ?? {}).map(([m, v]) => [m, v.value])) }));
  return finish(env, signals, { ...run, result, values: c.values, journal: [], points }, flags, out, note);
}

/**
 * A single run with clocks that mean something: the gates are judged every interval over the last
 * `history` (the longest `for`), on the log's own past, so "breached for more than 15 minutes" is
 * known at once instead of after 15 minutes of watching. The last evaluation is the answer.
 */
async function withHistory(
  signals: Signals,
  sources: ReturnType<typeof openSources>,
  cohorts: CohortSpec,
  judge: { cohort: string; baseline?: string },
  now: number,
  history: number,
  signal: AbortSignal,
): Promise<{ result: GateSetResult; values: WindowValues; journal: JournalRow[]; points: PointInTime[] }> {
  const monitor = new Monitor(signals, sources, { cohorts, judge: [judge], signal });
  const { failures } = await monitor.read(now - history - signals.window, now);
  const points: PointInTime[] = [];
  let last: Awaited<ReturnType<Monitor['evaluate']>> | null = null;
  const step = signals.interval;
  for (let t = now - Math.floor(history / step) * step; t <= now; t += step) {
    last = await monitor.evaluate(t, failures);
    points.push(point(t, last.values, judge.cohort));
  }
  return { result: last!.results[0]!, values: last!.values, journal: [], points };
}

function point(at: number, values: WindowValues, cohort: string): PointInTime {
  return { at, values: Object.fromEntries(Object.entries(values.cohorts[cohort] ?? {}).map(([m, v]) => [m, v.value])) };
}

interface Outcome {
  readonly runId: string;
  readonly startedAt: string;
  readonly result: GateSetResult;
  readonly values: WindowValues;
  readonly journal: readonly JournalRow[];
  readonly points: readonly PointInTime[];
}

async function watch(o: Monitoring): Promise<ExitCode> {
  const { env, signals, sources, cohorts, judge, flags, signal, run, out, note } = o;
  const interval = flags.watchMs ?? signals.interval;
  const checkpoints = [...(flags.checkpoints ?? [])].sort((a, b) => a - b);
  const journalMetrics = signals.slo.journal ?? [...new Set(signals.gates.map((g) => g.metric))];
  const monitor = new Monitor(signals, sources, { cohorts, judge: [judge], signal });
  const t0 = Date.now();
  const journal: JournalRow[] = [];
  const points: PointInTime[] = [];
  let last: { result: GateSetResult; values: WindowValues } | null = null;
  let lastVerdicts = '';
  note(`watching ${env.name} every ${clockText(interval)}${checkpoints.length ? `, journal at H0 and ${checkpoints.map((c) => `H+${clockText(c)}`).join(', ')}` : ''} (Ctrl-C to stop)`);
  for (let round = 1; ; round++) {
    let r;
    try {
      r = await monitor.tick(Date.now());
    } catch (err) {
      if (signal.aborted) break;
      throw err;
    }
    const result = r.results[0]!;
    last = { result, values: r.values };
    points.push(point(r.now, r.values, judge.cohort));
    const d = decision(result.verdict).decision;
    const elapsed = r.now - t0;
    if (round === 1) journal.push(journalRow('H0', result, r.values, journalMetrics, d));
    for (const c of checkpoints) if (elapsed >= c && !journal.some((j) => j.label === `H+${clockText(c)}`)) journal.push(journalRow(`H+${clockText(c)}`, result, r.values, journalMetrics, d));
    const verdicts = result.evaluations.map((e) => `${e.gate}=${e.verdict}`).join(',');
    if (flags.json) out(JSON.stringify({ round, ...roundJson(env, signals, result, r.values) }));
    else if (round === 1 || verdicts !== lastVerdicts) out(`\nround ${round} at ${result.at.slice(11, 19)}Z\n${evaluationTable(result)}\n${headline(env.name, result, d, r.values)}`);
    else out(`round ${round} at ${result.at.slice(11, 19)}Z: no change: ${headline(env.name, result, d, r.values)}`);
    lastVerdicts = verdicts;
    const done = (flags.rounds !== undefined && round >= flags.rounds) || (checkpoints.length > 0 && journal.length > checkpoints.length);
    if (done) break;
    try {
      await sleep(interval, undefined, { signal });
    } catch {
      break;
    }
  }
  if (!last) return ExitCode.interrupted;
  if (signal.aborted) note('stopped by Ctrl-C: the last complete round decides');
  return finish(env, signals, { ...run, ...last, journal, points }, { ...flags, json: false }, () => {}, note, true);
}

function roundJson(env: LoadedEnvironment, signals: Signals, result: GateSetResult, values: WindowValues): object {
  const d = decision(result.verdict);
  return {
    environment: env.name,
    decision: d.decision,
    exitCode: d.exitCode,
    headline: headline(env.name, result, d.decision, values),
    window: { from: new Date(values.window.from).toISOString(), to: new Date(values.window.to).toISOString() },
    cohort: result.cohort,
    ...(result.baselineCohort ? { baseline: result.baselineCohort } : {}),
    evaluations: result.evaluations,
    clocks: result.clocks,
    values: Object.fromEntries(Object.entries(values.cohorts).map(([c, ms]) => [c, Object.fromEntries(Object.entries(ms).map(([m, v]) => [m, { value: v.value, samples: v.samples, ...(v.method ? { method: v.method } : {}) }]))])),
    sources: values.sources,
    gates: signals.gates.length,
  };
}

async function finish(
  env: LoadedEnvironment,
  signals: Signals,
  o: Outcome,
  flags: SloFlags,
  out: (t: string) => void,
  note: (t: string) => void,
  quiet = false,
): Promise<ExitCode> {
  const d = decision(o.result.verdict);
  const line = headline(env.name, o.result, d.decision, o.values);
  const finishedAt = new Date().toISOString();
  const record = { startedAt: o.startedAt, finishedAt, ...roundJson(env, signals, o.result, o.values), journal: o.journal, series: o.points };
  let reportPath = '';
  try {
    const md = sloMarkdown(signals, { env: env.name, startedAt: o.startedAt, finishedAt, decision: d.decision, headline: line, result: o.result, values: o.values, journal: o.journal, points: o.points });
    const paths = await writeSignalsReport(env, 'slo', o.runId, o.startedAt, record, md);
    reportPath = path.relative(process.cwd(), paths.mdPath);
  } catch (err) {
    process.stderr.write(`warning: the slo report was not written: ${(err as Error).message}\n`);
  }
  if (flags.json) out(JSON.stringify({ ...record, report: reportPath || null }, null, 2));
  else if (!quiet) out(['', evaluationTable(o.result), '', `sources: ${sourcesLine(o.values.sources)}`, line, ...(reportPath ? [`report: ${reportPath}`] : [])].join('\n'));
  else note([`${line}`, ...(o.journal.length ? [`journal: ${o.journal.map((j) => `${j.label} ${j.decision}`).join(', ')}`] : []), ...(reportPath ? [`report: ${reportPath}`] : [])].join('\n'));
  return d.exitCode;
}
