/**
 * What a canary says at the end, writes in its report and sends: the outcome, where the traffic
 * and the hosts are, every decision that changed something and why, the smoke checks, and the
 * playbook's report fields (`success`, `rollback_triggered`, `rollback_reason`, `smoke_returncode`,
 * `metrics_delta`). The Markdown report has a table per step and Mermaid charts of the traffic
 * split, P95 and error rate over time, drawn from the run's event log.
 */
import path from 'node:path';
import { ExitCode } from '../base/errors.ts';
import { label } from '../base/run.ts';
import type { RunResult } from '../kernel/procedure.ts';
import type { NotifyEvent } from '../notify/payload.ts';
import type { ReportInput } from '../reports/types.ts';
import { xyChart } from '../signals/report/charts.ts';
import type { CanaryCtx } from './context.ts';
import type { CanaryEvent, EvaluationLine } from './events.ts';
import { moved, percentText } from './split.ts';

const rel = (p: string) => path.relative(process.cwd(), p) || p;

function headline(ctx: CanaryCtx, r: RunResult): string {
  const at = percentText(ctx.rollout.percent);
  const flags = ctx.canary.mode === 'flags';
  switch (r.outcome) {
    case 'done':
      return flags ? `PROMOTED: the flags are on on every host (${ctx.tag})` : `PROMOTED: ${ctx.tag} takes 100% of the traffic on every host, verified`;
    case 'rolled-back':
      // flags mode changes no code: the hosts run the release they ran before the canary
      return `ROLLED BACK: ${ctx.rollout.reason ?? 'the canary failed'}; ${flags ? `every flag off again on every host (they still run ${ctx.tag}, as before the canary)` : 'traffic and hosts back on the previous release, verified'}`;
    case 'refused':
      return 'REFUSED before changing anything live';
    case 'needs-attention':
      return ctx.rollout.phase === 'stopped' ? `STOPPED: the controller lost its lock; the traffic stays at ${at}` : 'FAILED and NOT safely rolled back: a human must look';
    case 'interrupted':
      return `STOPPED by Ctrl-C at ${at}: the split stays as it is`;
    case 'dry-run':
      return 'DRY RUN: nothing was changed';
  }
}

/** instances mode: what each of the host's two instances runs. */
function instancesLine(ctx: CanaryCtx, h: CanaryCtx['hosts'][number]): string {
  const unit = ctx.canary.instance!.unit;
  if (h.stage === 'verified') return `on ${ctx.tag}: the stable instance took it over, verified; ${unit} stopped`;
  if (h.stage === 'rolled-back') return `back on ${label(h.from)}, verified; ${unit} stopped`;
  if (h.stage === 'rollback-failed') return `state uncertain: the rollback to ${label(h.from)} did not verify`;
  return `the stable instance on ${label(h.from)}${moved(ctx).includes(h) ? `; ${ctx.tag} on ${unit}` : ctx.rollout.phase === 'rolled-back' ? `; ${unit} stopped` : ''}`;
}

export function canarySummary(ctx: CanaryCtx, r: RunResult): string {
  const lines = [`canary of ${ctx.tag} on ${ctx.env.name}: ${headline(ctx, r)} (exit ${r.exitCode}), run ${ctx.rollout.runId}`];
  if (r.outcome === 'dry-run') return lines.join('\n');
  lines.push(`  traffic: ${percentText(ctx.rollout.realPercent)} on ${ctx.tag}${ctx.rollout.stepIndex >= 0 ? ` (step ${ctx.rollout.stepIndex + 1} of ${ctx.percents.length})` : ''}`);
  for (const h of ctx.hosts) {
    const on = ctx.canary.mode === 'instances' ? instancesLine(ctx, h) : ctx.canary.mode === 'flags' ? `${label(h.from)}, flags ${moved(ctx).includes(h) ? 'on' : 'off'}` : moved(ctx).includes(h) ? `on ${ctx.tag}` : h.stage === 'rolled-back' ? `back on ${label(h.from)}, verified` : h.stage === 'rollback-failed' ? `state uncertain: the rollback to ${label(h.from)} did not verify` : `on ${label(h.from)}`;
    lines.push(`  ${h.host.name}: ${on}${h.problem && h.stage !== 'verified' ? `\n      why: ${h.problem}` : ''}`);
  }
  const changes = ctx.rollout.decisions.filter((d) => d.action !== 'hold').slice(-8);
  for (const d of changes) lines.push(`  ${d.at.slice(11, 19)}Z step ${d.step + 1} (${percentText(d.percent)}): ${d.action}: ${d.why}`);
  if (r.error && !ctx.rollout.reason) lines.push(`  failed step: ${r.error.split('\n')[0]}`);
  if (ctx.backup) lines.push(`  backup: ${rel(ctx.backup.file)} (verified)`);
  for (const n of ctx.notes) lines.push(`  note: ${n}`);
  for (const c of r.cleanup) lines.push(`  WARNING: ${c}`);
  const env = `--env ${ctx.env.name}`;
  if (r.outcome === 'interrupted' || ctx.rollout.phase === 'stopped')
    lines.push(`  Next: npx tsx tasks/canary.ts resume ${env} (from any machine) continues at this step; npx tsx tasks/canary.ts abort ${env} rolls it back`);
  if (r.outcome === 'needs-attention' && ctx.rollout.phase !== 'stopped')
    lines.push(`  Next: check the hosts (npx tsx tasks/doctor.ts ${env}), then: npx tsx tasks/rollback.ts ${env} ${label(ctx.hosts[0]!.from)}`);
  lines.push(`  event log: ${rel(ctx.events.file)}`);
  return lines.join('\n');
}

/** The last evaluation of each gate at the last decision: the canary against the stable cohort. */
function metricsDelta(events: readonly CanaryEvent[]): Record<string, { canary: number | null; stable: number | null; delta: number | null; verdict: string }> {
  const last = [...events].reverse().find((e) => e.type === 'decision' && e.evaluations.length) as Extract<CanaryEvent, { type: 'decision' }> | undefined;
  const out: Record<string, { canary: number | null; stable: number | null; delta: number | null; verdict: string }> = {};
  for (const e of last?.evaluations ?? []) {
    const stable = e.baseline ?? null;
    out[e.gate] = { canary: e.value, stable, delta: e.value !== null && stable !== null ? Math.round((e.value - stable) * 1000) / 1000 : null, verdict: e.verdict };
  }
  return out;
}

export function canaryJson(ctx: CanaryCtx, r: RunResult): unknown {
  const events = ctx.dry ? [] : ctx.events.all().filter((e) => e.at >= ctx.rollout.startedAt);
  const lastSmoke = ctx.rollout.smoke.at(-1);
  return {
    task: 'canary',
    env: ctx.env.name,
    tag: ctx.tag,
    runId: ctx.rollout.runId,
    controllerRunId: ctx.runId,
    outcome: r.outcome,
    exitCode: r.exitCode,
    // the canary playbook's report fields
    success: r.exitCode === ExitCode.ok,
    rollback_triggered: r.outcome === 'rolled-back' || ctx.rollout.phase === 'rolling-back',
    rollback_reason: r.outcome === 'done' ? null : ctx.rollout.reason,
    smoke_returncode: lastSmoke ? lastSmoke.returncode : null,
    metrics_delta: metricsDelta(events),
    mode: ctx.canary.mode,
    phase: ctx.rollout.phase,
    percent: ctx.rollout.percent,
    realPercent: ctx.rollout.realPercent,
    steps: ctx.percents.map((p, i) => ({ percent: p, reached: ctx.rollout.stepIndex >= i, decisions: ctx.rollout.decisions.filter((d) => d.step === i) })),
    hosts: ctx.hosts.map((h) => ({ name: h.host.name, from: h.from.tag ?? h.from.commit, moved: moved(ctx).includes(h), stage: h.stage, ...(h.problem ? { problem: h.problem } : {}) })),
    decisions: ctx.rollout.decisions,
    smoke: ctx.rollout.smoke,
    backup: ctx.backup ?? null,
    eventLog: ctx.events.file,
    ...(r.error ? { error: r.error } : {}),
    ...(ctx.dry ? { dryRun: ctx.dry.entries } : {}),
    notes: ctx.notes,
    cleanup: r.cleanup,
  };
}

/** The value of the first gate whose metric matches, at each decision. */
function series(decisions: readonly Extract<CanaryEvent, { type: 'decision' }>[], match: (e: EvaluationLine) => boolean): (number | null)[] {
  return decisions.map((d) => d.evaluations.find(match)?.value ?? null);
}

function charts(events: readonly CanaryEvent[]): string[] {
  const decisions = events.filter((e): e is Extract<CanaryEvent, { type: 'decision' }> => e.type === 'decision');
  if (decisions.length < 2) return ['Not enough decisions to draw (fewer than two).'];
  const step = Math.max(1, Math.ceil(decisions.length / 40)); // at most ~40 points: a chart stays readable
  const picked = decisions.filter((_, i) => i % step === 0 || i === decisions.length - 1);
  const labels = picked.map((d) => d.at.slice(11, 19));
  const out = [...xyChart({ title: 'Traffic on the canary', unit: '%', labels, values: picked.map((d) => d.percent), thresholds: [] }), ''];
  const p95 = series(picked, (e) => /p9[59]|latency/i.test(e.metric));
  if (p95.some((v) => v !== null)) out.push(...xyChart({ title: 'Latency of the canary (P95)', unit: 'ms', labels, values: p95, thresholds: [] }), '');
  const errors = series(picked, (e) => /error/i.test(e.metric));
  if (errors.some((v) => v !== null)) out.push(...xyChart({ title: 'Error rate of the canary', unit: '%', labels, values: errors, thresholds: [] }), '');
  return out;
}

export function canaryReport(ctx: CanaryCtx, r: RunResult, summary: string): ReportInput {
  const events = ctx.events.all().filter((e) => e.at >= ctx.rollout.startedAt);
  const verdict = r.outcome === 'done' ? 'promoted' : r.outcome === 'rolled-back' ? 'rolled back' : r.outcome === 'interrupted' ? 'stopped' : r.outcome;
  const stepTables = ctx.percents.flatMap((p, i) => {
    const ds = events.filter((e): e is Extract<CanaryEvent, { type: 'decision' }> => e.type === 'decision' && e.step === i);
    if (!ds.length) return [];
    const last = ds.at(-1)!;
    return [
      `**Step ${i + 1}: ${percentText(p)}** — ${ds.length} evaluation(s), last: ${last.action} (${last.why})`,
      '',
      '| Gate | Verdict | Canary | Stable | Threshold | Clock | Samples |',
      '| --- | --- | ---: | ---: | --- | --- | ---: |',
      ...last.evaluations.map((e) => `| ${e.gate} | ${e.verdict} | ${e.value ?? '-'} | ${e.baseline ?? '-'} | ${e.threshold.replace(/\|/g, '\\|')} | ${e.clock || '-'} | ${e.samples} |`),
      '',
    ];
  });
  const decisionLines = ctx.rollout.decisions.map((d) => `- ${d.at} step ${d.step + 1} (${percentText(d.percent)}): **${d.action}** (${d.verdict}): ${d.why.replace(/\|/g, '\\|')}`);
  return {
    kind: 'canary',
    runId: ctx.runId,
    env: ctx.env.name,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    verdict,
    title: `canary of ${ctx.tag} on ${ctx.env.name}: ${verdict}`,
    summary: [...summary.split('\n').map((l) => l.trim()).filter(Boolean), `run by ${ctx.who}`],
    steps: ctx.steps,
    backup: ctx.backup ? { file: ctx.backup.file, sizeBytes: ctx.backup.size, sha256: ctx.backup.sha256 } : null,
    hosts: ctx.hosts.map((h) => ({ name: h.host.name, from: label(h.from), to: ctx.tag, state: moved(ctx).includes(h) ? 'on the release' : h.stage })),
    sections: [
      { title: 'Canary steps', lines: stepTables.length ? stepTables : ['No step was judged.'] },
      { title: 'Decisions', lines: decisionLines.length ? decisionLines : ['None.'] },
      { title: 'Over time', lines: charts(events) },
      { title: 'Smoke checks', lines: ctx.rollout.smoke.length ? ctx.rollout.smoke.map((s) => `- step ${s.step + 1}: ${s.ok ? 'passed' : 'FAILED'} (exit ${s.returncode ?? '-'}): ${s.detail}`) : ['None ran.'] },
    ],
    extra: canaryJson(ctx, r) as Record<string, unknown>,
  };
}

export function canaryStartEvent(ctx: CanaryCtx): NotifyEvent {
  return {
    kind: 'start',
    title: `canary of ${ctx.tag} on ${ctx.env.name} ${ctx.cflags.resume ? 'resumed' : ctx.cflags.abort ? 'aborted' : 'started'}`,
    text: `mode ${ctx.canary.mode}, steps ${ctx.percents.map(percentText).join(' -> ')}`,
    runId: ctx.rollout.runId,
    fields: { tag: ctx.tag, by: ctx.who },
  };
}

export function canaryEndEvent(ctx: CanaryCtx, r: RunResult): NotifyEvent | null {
  const kind = ({ done: 'success', 'rolled-back': 'rollback', 'needs-attention': 'attention', interrupted: 'attention', refused: null, 'dry-run': null } as const)[r.outcome];
  if (!kind) return null;
  return { kind, title: `canary of ${ctx.tag} on ${ctx.env.name}: ${headline(ctx, r)}`, text: ctx.rollout.reason ?? '', runId: ctx.rollout.runId, fields: { tag: ctx.tag, exit: r.exitCode, traffic: percentText(ctx.rollout.realPercent) } };
}

/** A notification for every step reached (the issue's "webhook notifications at each step"). */
export function stepEvent(ctx: CanaryCtx, step: number, why: string): NotifyEvent {
  return { kind: 'start', title: `canary of ${ctx.tag} on ${ctx.env.name}: step ${step + 1} of ${ctx.percents.length}, ${percentText(ctx.percents[step]!)}`, text: why, runId: ctx.rollout.runId, fields: { tag: ctx.tag } };
}
