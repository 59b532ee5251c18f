/** deploy <tag>: the procedure the kernel runs (preflight and plan, the work, the undo, retention after success). */
import path from 'node:path';
import { backupPlan } from '../backup/dump.ts';
import { pruneAfterRun } from '../backup/prune-after-run.ts';
import { label } from '../base/run.ts';
import { git } from '../commands/git.ts';
import { releasePaths } from '../commands/releases.ts';
import type { Procedure } from '../kernel/procedure.ts';
import { run } from '../runners/run.ts';
import { backupStep } from './backup-step.ts';
import type { RunCtx } from './context.ts';
import { deployTasks, rollbackTasks } from './graph.ts';
import { checkHosts, movingParts, undoAfterFailure } from './moving.ts';

/** The git folder whose objects know the tags: the working copy, or the releases' bare mirror. */
function gitDir(ctx: RunCtx): string {
  const { app } = ctx.env.config;
  return app.strategy === 'in-place' ? app.path : releasePaths(app.path).repo;
}

async function plan(ctx: RunCtx): Promise<string[]> {
  const { env, tag } = ctx;
  const { app, database, services, verify, policy } = env.config;
  const first = ctx.hosts[0]!;
  const lines = [``, `Plan: deploy ${tag} to ${env.name} (${env.file}), run ${ctx.runId} by ${ctx.who}`];
  for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${tag}`);
  if (ctx.filtered) lines.push(`  only these hosts (--hosts/--tag); the environment's other hosts are not touched`);
  // the commits and migration files come from the first host's git objects (fetched unless dry-run)
  if (!ctx.dryRun && app.strategy === 'in-place') {
    await run(first.runner, git.fetchTags(app.path), { signal: ctx.signal });
    first.fetched = true;
  }
  // from the commit the host runs, never a name read from the host (a tag can look like an option)
  const from = first.from.commit;
  const log = await first.runner.exec(git.log(gitDir(ctx), from, tag), { signal: ctx.signal });
  if (log.code === 0) {
    const commits = log.stdout.trim().split('\n').filter(Boolean);
    lines.push(`  commits ${label(first.from)}..${tag} (${commits.length}):`, ...commits.slice(0, 20).map((c) => `    ${c}`));
    if (commits.length > 20) lines.push(`    ... and ${commits.length - 20} more`);
  } else lines.push(`  commits: not known yet (${tag} is fetched by the first step)`);
  if (app.migrationsDir && log.code === 0) {
    const files = await first.runner.exec(git.changedFiles(gitDir(ctx), from, tag, app.migrationsDir), { signal: ctx.signal });
    const names = files.stdout.trim().split('\n').filter(Boolean);
    lines.push(`  migration files new or changed in ${tag}: ${names.length ? names.join(', ') : 'none'}`);
  }
  if (ctx.flags.skipBackup) lines.push(`  backup: SKIPPED (--skip-backup: ${ctx.flags.skipBackup})`);
  else if (database) {
    const p = backupPlan({ db: database, format: database.format, dir: env.backupDir, fromTag: first.from.tag ?? null, toTag: tag });
    lines.push(`  backup: ${database.name} on ${database.dumpOn === 'host' ? first.host.name : 'this machine'} -> ${path.relative(process.cwd(), p.dumpPath)} (verified before anything live changes)`);
  } else lines.push('  backup: no database configured');
  lines.push(
    `  then: ${app.strategy === 'in-place' ? 'check out, install' : 'switch current'}, migrate (${app.migrate.length} command(s)), restart ${services.map((s) => s.name).join(', ')}, verify (${['health', verify.readiness && 'readiness', verify.chat && 'chat', verify.journal && 'journal'].filter(Boolean).join(', ')})`,
    `  on failure: ${policy.autoRollback && !ctx.flags.noRollback ? `automatic rollback to ${label(first.from)}, verified the same way (applied migrations are NOT undone)` : 'no automatic rollback (a human decides)'}`,
    '',
  );
  return lines;
}

export const deployProcedure: Procedure<RunCtx> = {
  ...movingParts,
  task: 'deploy',

  async preflight(ctx, list) {
    await checkHosts(ctx, list, true);
    return plan(ctx);
  },

  work: (ctx) => deployTasks(ctx, { migrate: true, backup: (c, task) => backupStep(c, task) }),

  recover: (ctx, list) => undoAfterFailure(ctx, list, () => rollbackTasks(ctx)),

  // retention only once the run succeeded: a failed run may still need every dump there is
  async afterSuccess(ctx) {
    if (!ctx.backup) return [];
    return [...(await pruneAfterRun(ctx.env, ctx.state.runner)).notes];
  },
};
