/**
 * Preflight: read-only, before the lock. Every host answers with a known host key, has the
 * commands and units, runs a clean working copy on a known revision (the rollback target), and
 * can fetch the tag; the database answers and this machine has room for the backup. Every
 * problem is collected; any problem refuses the run (exit 2) with nothing changed.
 */
import { statfs } from 'node:fs/promises';
import type { ListrTask } from 'listr2';
import { git } from '../commands/git.ts';
import { pg } from '../commands/pg.ts';
import { command, sh } from '../commands/shell.ts';
import { secret } from '../config/load.ts';
import { CutoverError, ExitCode, HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { inspectHost, workTreeOf } from '../probes/host-facts.ts';
import { lastLines } from '../runners/run.ts';
import { mbText } from '../base/format.ts';
import { label } from '../base/run.ts';
import type { HostRun, RunCtx } from './context.ts';
import { usesSsm } from './restart-step.ts';

export class PreflightError extends CutoverError {
  constructor(readonly problems: readonly string[]) {
    super(`preflight failed, nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`, ExitCode.refused);
  }
}

export function preflightTasks(ctx: RunCtx, problems: string[], opts: { needTag: boolean }): ListrTask<RunCtx>[] {
  return [
    {
      title: `Hosts (${ctx.hosts.length})`,
      task: (_, task) =>
        task.newListr(
          ctx.hosts.map((h) => ({
            title: h.host.name,
            task: async (_c, t) => {
              // every problem is collected, even an unexpected one: preflight reports all at once
              const found = await preflightHost(ctx, h, opts.needTag).catch((err: Error) => [err.message]);
              problems.push(...found.map((p) => `${h.host.name}: ${p}`));
              t.title = `${h.host.name}: on ${label(h.from)}${found.length ? ` — ${found.length} problem(s)` : ''}`;
            },
          })),
          { concurrent: true, exitOnError: false },
        ),
    },
    {
      // EC2 state before anything changes: the instance exists and runs, its checks pass, and (for
      // SSM restarts) its agent is online
      title: 'EC2 instances',
      enabled: () => !!ctx.env.config.aws && ctx.hosts.some((h) => h.host.instanceId),
      task: async (_, task) => {
        const [{ ec2Preflight }, { awsSettings }] = await Promise.all([import('../aws/ec2-preflight.ts'), import('../aws/settings.ts')]);
        const targets = ctx.hosts.filter((h) => h.host.instanceId).map((h) => ({ hostName: h.host.name, instanceId: h.host.instanceId! }));
        const found = await ec2Preflight(awsSettings(ctx.env), targets, { ssm: usesSsm(ctx), signal: ctx.signal }).catch((err: Error) => [err.message]);
        problems.push(...found);
        if (!found.length) task.title = `EC2 instances: ${targets.length} running, checks ok${usesSsm(ctx) ? ', SSM agents online' : ''}`;
      },
    },
    {
      title: 'Database and backup room',
      enabled: () => !!ctx.env.config.database,
      task: async (_, task) => {
        const found = await preflightDatabase(ctx);
        problems.push(...found);
        if (!found.length) task.title = `Database answers; room for the backup in ${ctx.env.backupDir}`;
      },
    },
  ];
}

async function preflightHost(ctx: RunCtx, h: HostRun, needTag: boolean): Promise<string[]> {
  const problems: string[] = [];
  try {
    const facts = await inspectHost(ctx.env, h.runner);
    if (facts.missing.length) problems.push(`commands missing: ${facts.missing.join(', ')} (run doctor for details)`);
    for (const s of facts.services) if (!s.exists) problems.push(`unit ${s.service.unit} not found: ${s.state}`);
    if (facts.workTreeProblem) problems.push(facts.workTreeProblem);
    if (facts.dirty.length) problems.push(`${workTreeOf(ctx.env)} has tracked files changed by hand: ${facts.dirty.join(', ')}; commit or discard them first`);
    if (facts.deployed) h.from = facts.deployed;
  } catch (err) {
    if (err instanceof HostKeyError || err instanceof HostUnreachableError) return [err.detail];
    throw err;
  }
  if (needTag && problems.length === 0) {
    const { app } = ctx.env.config;
    const probe =
      app.strategy === 'in-place'
        ? git.remoteHasTag(app.path, ctx.tag)
        : command(sh`git ls-remote --exit-code --tags ${app.repo} ${`refs/tags/${ctx.tag}`}`, { readOnly: true });
    const r = await h.runner.exec(probe, { signal: ctx.signal, timeoutMs: 60_000 });
    if (r.code === 2) problems.push(`tag ${ctx.tag} does not exist on the remote ${app.repo} (push it first: git push origin ${ctx.tag})`);
    else if (r.code !== 0) problems.push(`cannot ask the remote for tag ${ctx.tag}: ${lastLines(r.stderr, 2) || r.error || `exit ${r.code}`}`);
  }
  return problems;
}

async function preflightDatabase(ctx: RunCtx): Promise<string[]> {
  const db = ctx.env.config.database!;
  const runner = ctx.hosts[0]!.runner; // dumps run on the first host (or locally: see backup step)
  const r = await runner.exec(pg.size(db, secret(ctx.env, db.password)), { signal: ctx.signal });
  if (r.code !== 0) return [`database ${db.user}@${db.host}:${db.port}/${db.name} does not answer: ${lastLines(r.stderr, 2) || r.error || `exit ${r.code}`}`];
  const size = Number(r.stdout.trim());
  const fs = await statfs(ctx.env.backupDir);
  const free = fs.bavail * fs.bsize;
  // a custom-format dump is compressed; the whole database size is a safe upper bound
  if (!ctx.flags.skipBackup && free < size) return [`not enough room for the backup in ${ctx.env.backupDir}: ${mbText(free)} free, database is ${mbText(size)}`];
  return [];
}


