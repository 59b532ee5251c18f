/**
 * The last thing a deploy or rollback prints: the outcome, each host's state (with its reason, said
 * once), and what to do next.
 */
import path from 'node:path';
import { ExitCode } from '../base/errors.ts';
import { label } from '../base/run.ts';
import type { RunResult } from '../kernel/procedure.ts';
import type { HostRun, RunCtx } from './context.ts';

function headline(ctx: RunCtx, r: RunResult): string {
  const setAside = ctx.hosts.filter((h) => h.failed && h.stage === 'rolled-back');
  if (r.outcome === 'done' && ctx.task === 'rollback') return `DONE: back on ${ctx.tag}, verified`;
  if (r.outcome === 'done' && setAside.length)
    return `DEPLOYED to ${ctx.hosts.length - setAside.length} of ${ctx.hosts.length} hosts; ${setAside.map((h) => h.host.name).join(', ')} failed and ${setAside.length === 1 ? 'was' : 'were'} rolled back (within rollout.maxFailures)`;
  return {
    done: 'DEPLOYED and verified',
    'rolled-back': 'FAILED, rolled back, and the rollback was verified',
    refused: 'REFUSED before changing anything live',
    'needs-attention': 'FAILED and NOT safely rolled back: a human must look',
    interrupted: changedAnything(ctx) ? 'INTERRUPTED' : 'INTERRUPTED before anything live changed',
    'dry-run': 'DRY RUN: nothing was changed',
  }[r.outcome];
}

function hostLine(ctx: RunCtx, h: HostRun): string {
  const on = {
    untouched: `unchanged, on ${label(h.from)}`,
    'code-changed': h.restarted ? `code of ${ctx.tag} in place, services restarted, NOT verified` : `code of ${ctx.tag} checked out, services NOT restarted (the old code still runs until a restart)`,
    restarted: `running ${ctx.tag}, NOT verified`,
    verified: `on ${ctx.tag}, verified`,
    'rolled-back': `back on ${label(h.from)}, verified`,
    'rollback-failed': `state uncertain: the rollback to ${label(h.from)} did not verify`,
  }[h.stage];
  return `  ${h.host.name}: ${on}${h.problem && h.stage !== 'verified' ? `\n      why: ${h.problem.split('\n').join('\n           ')}` : ''}`;
}

export function changedAnything(ctx: RunCtx): boolean {
  return ctx.hosts.some((h) => h.stage !== 'untouched') || ctx.notes.some((n) => n.startsWith('database restored'));
}

export function summaryText(ctx: RunCtx, r: RunResult): string {
  const what = ctx.task === 'deploy' ? `deploy ${ctx.tag} to ${ctx.env.name}` : `rollback of ${ctx.env.name} to ${ctx.tag}`;
  const lines = [`${what}: ${headline(ctx, r)} (exit ${r.exitCode}), run ${ctx.runId}`];
  if (r.outcome === 'dry-run') {
    if (r.error) lines.push(`  the dry run stopped at: ${r.error.split('\n')[0]}`);
    return lines.join('\n');
  }
  for (const h of ctx.hosts) lines.push(hostLine(ctx, h));
  // the failed step's message, unless a host's reason above already says it
  const first = r.error?.split('\n')[0];
  if (first && r.outcome !== 'done' && !ctx.hosts.some((h) => h.problem?.includes(first))) lines.push(`  ${first.startsWith('stopped') ? first : `failed step: ${first}`}`);
  if (ctx.backup) lines.push(`  backup: ${path.relative(process.cwd(), ctx.backup.file)} (${(ctx.backup.size / 1e6).toFixed(2)} MB, sha256 ${ctx.backup.sha256.slice(0, 16)}…, verified)`);
  if (ctx.backupSkipped) lines.push(`  backup: skipped (${ctx.backupSkipped})`);
  for (const id of [...new Set(ctx.ssmCommands.map((c) => c.commandId))])
    lines.push(`  SSM command ${id}: ${ctx.ssmCommands.filter((c) => c.commandId === id).map((c) => `${c.host} (${c.instanceId}) ${c.status} in ${(c.durationMs / 1000).toFixed(1)} s`).join(', ')}`);
  for (const n of ctx.notes) lines.push(`  note: ${n}`);
  for (const c of r.cleanup) lines.push(`  WARNING: ${c}`);
  const env = `--env ${ctx.env.name}`;
  if (ctx.task === 'rollback' && r.outcome === 'done' && !ctx.notes.some((n) => n.startsWith('database restored')))
    lines.push('  Code only: the database was not touched (migrations applied since stay). To restore it too: --restore-db');
  if (r.outcome === 'rolled-back' && ctx.env.config.app.migrate.length)
    lines.push(
      `  The code is back on the previous tag; migrations that ${ctx.tag} applied were NOT undone (the database keeps the new schema).`,
      ctx.backup ? `  To put the data back as it was before this deploy: npx tsx tasks/rollback.ts ${env} --restore-db ${path.relative(process.cwd(), ctx.backup.file)}` : '',
    );
  if ((r.outcome === 'needs-attention' || r.outcome === 'interrupted') && changedAnything(ctx)) {
    const back = ctx.hosts.find((h) => h.stage !== 'untouched')!;
    lines.push(`  Next: check the hosts (npx tsx tasks/doctor.ts ${env}), then go back with: npx tsx tasks/rollback.ts ${env} ${label(back.from)}`);
  }
  return lines.filter(Boolean).join('\n');
}

/**
 * The failure as history and --json keep it: each failing host's reason, then the failed step's
 * message (on screen they are said once each, under their steps and in the summary).
 */
export function failureText(ctx: RunCtx, error: string | undefined): string | undefined {
  if (!error) return undefined;
  const hosts = ctx.hosts.filter((h) => h.failed || h.stage === 'rollback-failed').map((h) => `${h.host.name}: ${h.failed ?? h.problem ?? 'failed'}`);
  return [...hosts.filter((l) => !l.includes(error)), error].join('\n');
}

/** Commands each host ran for this run (SSH exec requests: round trips), counted by its runner. */
export function roundTrips(ctx: RunCtx): { total: number; hosts: Record<string, number> } {
  const hosts: Record<string, number> = {};
  for (const { host, runner } of [ctx.state, ...ctx.hosts]) hosts[host.name] = runner.commandsRun ?? 0;
  return { total: Object.values(hosts).reduce((a, b) => a + b, 0), hosts };
}

export function summaryJson(ctx: RunCtx, r: RunResult): unknown {
  return {
    runId: ctx.runId,
    task: ctx.task,
    env: ctx.env.name,
    tag: ctx.tag,
    who: ctx.who,
    outcome: r.outcome === 'done' ? 'deployed' : r.outcome, // 'deployed': the run reached its target (a rollback's too), as the history says
    exitCode: r.exitCode,
    ok: r.exitCode === ExitCode.ok,
    error: failureText(ctx, r.error),
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
    roundTrips: roundTrips(ctx),
    ...(ctx.dry ? { dryRun: ctx.dry.entries } : {}),
    notes: ctx.notes,
    cleanup: r.cleanup,
  };
}
