/**
 * A deploy or rollback run as a report and as notifications, for the kernel to write and send.
 * Pure; reads the run context and its result only.
 */
import type { Outcome, RunResult } from '../kernel/procedure.ts';
import type { NotifyEvent } from '../notify/payload.ts';
import type { ReportCheck, ReportInput } from '../reports/types.ts';
import type { RunCtx } from './context.ts';

/** deployed / rolled back / needs attention, as the seed's report says it. */
export function runVerdict(task: RunCtx['task'], outcome: Outcome): string {
  if (outcome === 'done') return task === 'deploy' ? 'deployed' : 'rolled back';
  return { 'rolled-back': 'rolled back', refused: 'refused', 'needs-attention': 'needs attention', interrupted: 'interrupted', 'dry-run': 'dry run' }[outcome];
}

function what(ctx: Pick<RunCtx, 'task' | 'tag' | 'env'>): string {
  return ctx.task === 'deploy' ? `deploy of ${ctx.env.name} to ${ctx.tag}` : `rollback of ${ctx.env.name} to ${ctx.tag}`;
}

function fromLabel(d: { tag?: string; commit: string }): string {
  return d.tag ?? (d.commit.slice(0, 12) || '(nothing)');
}

function checks(ctx: RunCtx): ReportCheck[] {
  return ctx.hosts.flatMap((h) =>
    [...h.checks.map((c) => ({ c, prefix: '' })), ...(h.rollbackChecks ?? []).map((c) => ({ c, prefix: 'after rollback: ' }))].map(({ c, prefix }) => {
      const ms = /chat|latency/.test(c.name); // probes measure time in ms; others report no value
      return {
        host: h.host.name,
        check: `${prefix}${c.name}`,
        value: c.value === undefined ? (c.ok ? 'ok' : 'failed') : ms ? `${Math.round(c.value)} ms` : String(c.value),
        threshold: c.threshold === undefined ? '-' : ms ? `<= ${Math.round(c.threshold)} ms` : String(c.threshold),
        verdict: c.ok ? ('ok' as const) : ('fail' as const),
        why: c.detail,
      };
    }),
  );
}

/** The report of a run. `summary` is what the run printed at the end (summaryText), one line each. */
export function runReportInput(ctx: RunCtx, report: RunResult, summary: string): ReportInput {
  const verdict = runVerdict(ctx.task, report.outcome);
  return {
    kind: ctx.task,
    runId: ctx.runId,
    env: ctx.env.name,
    startedAt: report.startedAt.toISOString(),
    finishedAt: report.finishedAt.toISOString(),
    verdict,
    title: `${what(ctx)}: ${verdict}`,
    summary: [...summary.split('\n').map((l) => l.trim()).filter(Boolean), `run by ${ctx.who}`],
    steps: ctx.steps,
    checks: checks(ctx),
    ssmCommands: ctx.ssmCommands,
    backup: ctx.backup ? { file: ctx.backup.file, sizeBytes: ctx.backup.size, sha256: ctx.backup.sha256 } : ctx.backupSkipped ? { skipped: ctx.backupSkipped } : null,
    hosts: ctx.hosts.map((h) => ({ name: h.host.name, from: fromLabel(h.from), to: ctx.tag, state: h.stage })),
    extra: { exitCode: report.exitCode, outcome: report.outcome, tag: ctx.tag, ...(report.error ? { error: report.error } : {}), notes: ctx.notes, cleanup: report.cleanup },
  };
}

/** Sent once the lock is taken, before anything changes. */
export function runStartEvent(ctx: RunCtx): NotifyEvent {
  const hosts = ctx.hosts.map((h) => h.host.name);
  return {
    kind: 'start',
    title: `${what(ctx)} started`,
    text: `${hosts.length} host(s): ${hosts.join(', ')}; from ${[...new Set(ctx.hosts.map((h) => fromLabel(h.from)))].join(', ')}`,
    runId: ctx.runId,
    fields: { tag: ctx.tag, by: ctx.who },
  };
}

/** Sent at the end; null when there is nothing to say (a dry run, a refusal before anything changed). */
export function runEndEvent(ctx: RunCtx, report: RunResult): NotifyEvent | null {
  const kind = ({ done: 'success', 'rolled-back': 'rollback', 'needs-attention': 'attention', interrupted: 'attention', refused: null, 'dry-run': null } as const)[report.outcome];
  if (!kind) return null;
  const failing = ctx.hosts.filter((h) => h.problem && h.stage !== 'verified').map((h) => `${h.host.name}: ${h.problem}`);
  return {
    kind,
    title: `${what(ctx)}: ${runVerdict(ctx.task, report.outcome)}`,
    text: [report.error ? `failed step: ${report.error.split('\n')[0]}` : '', ...failing.slice(0, 5)].filter(Boolean).join('\n'),
    runId: ctx.runId,
    fields: { tag: ctx.tag, exit: report.exitCode, hosts: ctx.hosts.map((h) => `${h.host.name} ${h.stage}`).join(', '), ...(ctx.backup ? { backup: ctx.backup.file.split('/').at(-1)! } : {}) },
  };
}
