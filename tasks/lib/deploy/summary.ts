/** The last thing a deploy or rollback prints: the outcome, each host's state, and what to do next. */
import path from 'node:path';
import { ExitCode } from '../base/errors.ts';
import { label, type HostRun, type RunCtx } from './context.ts';
import type { RunReport } from './orchestrate.ts';

const HEADLINE: Record<RunReport['outcome'], string> = {
  deployed: 'DEPLOYED and verified',
  'rolled-back': 'FAILED, rolled back, and the rollback was verified',
  refused: 'REFUSED before changing anything live',
  'needs-attention': 'FAILED and NOT safely rolled back: a human must look',
  interrupted: 'INTERRUPTED',
  'dry-run': 'DRY RUN: nothing was changed',
};

function hostLine(ctx: RunCtx, h: HostRun): string {
  const on = {
    untouched: `unchanged, on ${label(h.from)}`,
    'code-changed': `code of ${ctx.tag} checked out, services NOT restarted (the old code still runs until a restart)`,
    restarted: `running ${ctx.tag}, NOT verified`,
    verified: `on ${ctx.tag}, verified`,
    'rolled-back': `back on ${label(h.from)}, verified`,
    'rollback-failed': `state uncertain: the rollback to ${label(h.from)} did not verify`,
  }[h.stage];
  return `  ${h.host.name}: ${on}${h.problem && h.stage !== 'verified' ? `\n      why: ${h.problem}` : ''}`;
}

export function summaryText(ctx: RunCtx, report: RunReport): string {
  const what = ctx.task === 'deploy' ? `deploy ${ctx.tag} to ${ctx.env.name}` : `rollback of ${ctx.env.name} to ${ctx.tag}`;
  const setAside = ctx.hosts.filter((h) => h.failed && h.stage === 'rolled-back');
  const headline =
    ctx.task === 'rollback' && report.outcome === 'deployed'
      ? `DONE: back on ${ctx.tag}, verified`
      : report.outcome === 'deployed' && setAside.length
        ? `DEPLOYED to ${ctx.hosts.length - setAside.length} of ${ctx.hosts.length} hosts; ${setAside.length} failed and were rolled back (within rollout.maxFailures)`
        : HEADLINE[report.outcome];
  const lines = [`${what}: ${headline} (exit ${report.exitCode}), run ${ctx.runId}`];
  if (report.outcome !== 'dry-run') for (const h of ctx.hosts) lines.push(hostLine(ctx, h));
  if (report.error && report.outcome !== 'deployed') lines.push(`  failed step: ${report.error.split('\n')[0]}`);
  if (ctx.backup) lines.push(`  backup: ${path.relative(process.cwd(), ctx.backup.file)} (${(ctx.backup.size / 1e6).toFixed(2)} MB, sha256 ${ctx.backup.sha256.slice(0, 16)}…, verified)`);
  if (ctx.backupSkipped) lines.push(`  backup: skipped (${ctx.backupSkipped})`);
  for (const id of [...new Set(ctx.ssmCommands.map((c) => c.commandId))])
    lines.push(`  SSM command ${id}: ${ctx.ssmCommands.filter((c) => c.commandId === id).map((c) => `${c.host} (${c.instanceId}) ${c.status} in ${(c.durationMs / 1000).toFixed(1)} s`).join(', ')}`);
  for (const n of ctx.notes) lines.push(`  note: ${n}`);
  for (const c of report.cleanup) lines.push(`  WARNING: ${c}`);
  const env = `--env ${ctx.env.name}`;
  if (ctx.task === 'rollback' && report.outcome === 'deployed' && !ctx.notes.some((n) => n.startsWith('database restored')))
    lines.push('  Code only: the database was not touched (migrations applied since stay). To restore it too: --restore-db');
  if (report.outcome === 'rolled-back' && ctx.env.config.app.migrate.length)
    lines.push(
      `  The code is back on the previous tag; migrations that ${ctx.tag} applied were NOT undone (the database keeps the new schema).`,
      ctx.backup ? `  To put the data back as it was before this deploy: npx tsx tasks/rollback.ts ${env} --restore-db ${path.relative(process.cwd(), ctx.backup.file)}` : '',
    );
  if (report.outcome === 'needs-attention' || report.outcome === 'interrupted') {
    const prev = label(ctx.hosts[0]!.from);
    lines.push(`  Next: check the hosts (npx tsx tasks/doctor.ts ${env}), then go back with: npx tsx tasks/rollback.ts ${env} ${prev}`);
  }
  return lines.filter(Boolean).join('\n');
}

export function summaryJson(ctx: RunCtx, report: RunReport): unknown {
  return {
    runId: ctx.runId,
    task: ctx.task,
    env: ctx.env.name,
    tag: ctx.tag,
    who: ctx.who,
    outcome: report.outcome,
    exitCode: report.exitCode,
    ok: report.exitCode === ExitCode.ok,
    error: report.error,
    failedHosts: ctx.hosts.filter((h) => h.failed).map((h) => ({ name: h.host.name, why: h.failed, stage: h.stage })),
    hosts: ctx.hosts.map((h) => ({
      name: h.host.name,
      from: h.from.tag ?? h.from.commit,
      stage: h.stage,
      problem: h.problem,
      checks: h.checks.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail, waitedMs: c.waitedMs, value: c.value, threshold: c.threshold })),
      rollbackChecks: h.rollbackChecks?.map((c) => ({ name: c.name, ok: c.ok, detail: c.detail })),
    })),
    backup: ctx.backup ?? (ctx.backupSkipped ? { skipped: ctx.backupSkipped } : null),
    steps: ctx.steps,
    ssmCommands: ctx.ssmCommands,
    notes: ctx.notes,
    cleanup: report.cleanup,
  };
}
