/** deploy <tag>: the procedure the kernel runs (preflight and plan, the work, the undo, retention after success). */
import path from 'node:path';
import { label } from '../base/run.ts';
import type { Procedure } from '../kernel/procedure.ts';
import { describeHolder, parseHeld } from '../state/lock.ts';
import type { RunCtx } from './context.ts';
import { loadWork, work } from './load-work.ts';
import { checkHosts, movingParts, undoAfterFailure } from './moving.ts';

/** When the preflight found the deploy lock held: said before the confirmation (the lock itself still decides). */
function lockLine(ctx: RunCtx): string | null {
  const text = ctx.hosts.find((h) => h.host === ctx.state.host)?.facts?.lock;
  if (!text || text === 'free\n') return null;
  return `  lock: ${describeHolder(parseHeld(text))}`;
}

async function plan(ctx: RunCtx): Promise<string[]> {
  const { env, tag } = ctx;
  const { app, database, services, verify, policy } = env.config;
  const first = ctx.hosts[0]!;
  const lines = [``, `Plan: deploy ${tag} to ${env.name} (${env.file}), run ${ctx.runId} by ${ctx.who}`];
  for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${tag}`);
  if (ctx.filtered) lines.push(`  only these hosts (--hosts/--tag); the environment's other hosts are not touched`);
  // the commits and migration files came with the first host's preflight, after its fetch (real runs)
  const facts = first.facts?.plan;
  if (facts?.ok) {
    lines.push(`  commits ${label(first.from)}..${tag} (${facts.count}):`, ...facts.commits.map((c) => `    ${c}`));
    if (facts.count > facts.commits.length) lines.push(`    ... and ${facts.count - facts.commits.length} more`);
    if (app.migrationsDir) lines.push(`  migration files new or changed in ${tag}: ${facts.changed?.length ? facts.changed.join(', ') : 'none'}`);
  } else lines.push(`  commits: not known yet (${tag} is fetched by the first step)`);
  const held = lockLine(ctx);
  if (held) lines.push(held);
  if (ctx.flags.skipBackup) lines.push(`  backup: SKIPPED (--skip-backup: ${ctx.flags.skipBackup})`);
  else if (database) {
    const p = work().backupPlan({ db: database, format: database.format, dir: env.backupDir, fromTag: first.from.tag ?? null, toTag: tag });
    lines.push(`  backup: ${database.name} on ${database.dumpOn === 'host' ? first.host.name : 'this machine'} -> ${path.relative(process.cwd(), p.dumpPath)} (verified before anything live changes)`);
  } else lines.push('  backup: no database configured');
  lines.push(
    `  then: ${app.strategy === 'in-place' ? 'check out, install' : 'switch current'}, migrate (${app.migrate.length} command(s)), restart ${services.map((s) => s.name).join(', ')}, verify (${['health', verify.readiness && 'readiness', verify.chat && 'chat', verify.journal && 'journal and services'].filter(Boolean).join(', ')})`,
    `  on failure: ${policy.autoRollback && !ctx.flags.noRollback ? `automatic rollback to ${label(first.from)}, verified the same way (applied migrations are NOT undone)` : 'no automatic rollback (a human decides)'}`,
    '',
  );
  return lines;
}

export const deployProcedure: Procedure<RunCtx> = {
  ...movingParts,
  task: 'deploy',

  async preflight(ctx, list) {
    const loading = loadWork(); // while the hosts answer
    await checkHosts(ctx, list, { needTag: true });
    await loading;
    return plan(ctx);
  },

  besideLock: (ctx) => work().connectBackupSession(ctx),

  work: (ctx) => work().deployTasks(ctx, { migrate: true, backup: (c, task) => work().backupStep(c, task) }),

  recover: (ctx, list) => undoAfterFailure(ctx, list, () => work().rollbackTasks(ctx)),

  // retention only once the run succeeded: a failed run may still need every dump there is
  async afterSuccess(ctx) {
    if (!ctx.backup) return [];
    return [...(await work().pruneAfterRun(ctx.env, ctx.state.runner)).notes];
  },
};
