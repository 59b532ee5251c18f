/** deploy <tag>: the Procedure the orchestrator runs (plan, work, undo, dry-run). */
import path from 'node:path';
import { backupPlan } from '../backup/dump.ts';
import { appCommand, pgEnv } from '../commands/app.ts';
import { git } from '../commands/git.ts';
import { releasePaths } from '../commands/releases.ts';
import { display, type Command } from '../commands/shell.ts';
import { systemd } from '../commands/systemd.ts';
import { secret, secretValues } from '../config/load.ts';
import { run } from '../runners/run.ts';
import { label, type RunCtx } from './context.ts';
import { backupStep } from './backup-step.ts';
import { deployTasks, rollbackTasks } from './graph.ts';
import { releaseCommands } from './host-steps.ts';
import { usesSsm } from './restart-step.ts';
import { planBatches } from './rollout.ts';
import type { Procedure } from './orchestrate.ts';

/** The git folder whose objects know the tags: the working copy, or the releases' bare mirror. */
function gitDir(ctx: RunCtx): string {
  const { app } = ctx.env.config;
  return app.strategy === 'in-place' ? app.path : releasePaths(app.path).repo;
}

export const deployProcedure: Procedure = {
  kind: 'deploy',

  async plan(ctx) {
    const { env, tag } = ctx;
    const { app, database, services, verify, policy } = env.config;
    const first = ctx.hosts[0]!;
    const lines = [``, `Plan: deploy ${tag} to ${env.name} (${env.file}), run ${ctx.runId} by ${ctx.who}`];
    for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${tag}`);
    // the commits and migration files come from the first host's git objects (fetched unless dry-run)
    if (!ctx.flags.dryRun && app.strategy === 'in-place') {
      await run(first.runner, git.fetchTags(app.path), { signal: ctx.signal });
      first.fetched = true;
    }
    const from = first.from.tag ?? first.from.commit;
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
  },

  work: (ctx) =>
    deployTasks(ctx, {
      migrate: true,
      backup: (c, task) => backupStep(c, task),
    }),

  undo: (ctx) => rollbackTasks(ctx),

  async dryRun(ctx) {
    const { app, database, services } = ctx.env.config;
    const secrets = secretValues(ctx.env);
    const lines = ['Dry run: these commands would run (nothing was changed):'];
    const show = (where: string, cmd: Command) => lines.push(`  [${where}] ${display(cmd, secrets)}`);
    const first = ctx.hosts[0]!;
    if (database && !ctx.flags.skipBackup) {
      const p = backupPlan({ db: database, password: secret(ctx.env, database.password), format: database.format, dir: ctx.env.backupDir, fromTag: first.from.tag ?? null, toTag: ctx.tag });
      for (const c of p.onHost) show(database.dumpOn === 'host' ? first.host.name : 'this machine', c);
      lines.push(`  [this machine] the dump streams into ${p.dumpPath} (mode 0600); then:`);
      for (const c of p.here) show('this machine', c);
    }
    for (const h of ctx.hosts) {
      const n = h.host.name;
      for (const c of releaseCommands(ctx)) show(n, c);
      if (app.strategy === 'releases') lines.push(`  [${n}] mirror ${app.repo}, add a release folder for ${ctx.tag}, install there, switch current`);
      if (h === first) for (const c of app.migrate) show(n, appCommand(app.path, c, { ...app.env, ...(database ? pgEnv(database) : {}) }, secret(ctx.env, database?.password)));
      for (const s of services) if (s.unit && s.restart !== 'ssm') show(n, systemd.restart([s.unit], s.sudo));
      lines.push(`  [${n}] verify: ${ctx.env.config.verify.health.url.replaceAll('{host}', h.host.address)} until healthy (version ${ctx.tag}), then readiness, chat, journal`);
    }
    if (usesSsm(ctx)) {
      const [{ sendCommandRequest }, { ssmRestartOptions }] = await Promise.all([import('../aws/ssm-command.ts'), import('../aws/restart-options.ts')]);
      const ssm = services.filter((s) => s.restart === 'ssm');
      for (const [i, batch] of planBatches(ctx.hosts, ctx.env.config.rollout).entries()) {
        const o = ssmRestartOptions(ctx.env, batch.map((h) => h.host), { units: ssm.map((s) => s.unit!), sudo: ssm.some((s) => s.sudo), maxConcurrency: String(batch.length) });
        lines.push(`  [AWS SSM, batch ${i + 1}] SendCommand ${JSON.stringify(sendCommandRequest(o))}`);
      }
    }
    return lines;
  },
};
