/**
 * Preflight: read-only, before the lock. Every host answers with a known host key, has the
 * commands and units, runs a clean working copy on a known revision (the rollback target), and
 * can fetch the tag; the database answers and this machine has room for the backup. Every
 * problem is collected; any problem refuses the run (exit 2) with nothing changed.
 */
import { statfs } from 'node:fs/promises';
import type { ListrTask } from 'listr2';
import { CutoverError, ExitCode, HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { readHostFacts, workTreeOf, type FactsAsk, type PreflightFacts } from '../probes/host-facts.ts';
import { mbText } from '../base/format.ts';
import { label } from '../base/run.ts';
import type { HostRun, RunCtx } from './context.ts';

/** Services restarted through SSM (the same test as restart-step.ts, without loading the restart's modules). */
const usesSsm = (ctx: RunCtx) => ctx.env.config.services.some((s) => s.restart === 'ssm');

export class PreflightError extends CutoverError {
  constructor(readonly problems: readonly string[]) {
    super(`preflight failed, nothing was changed:\n${problems.map((p) => `  - ${p}`).join('\n')}`, ExitCode.refused);
  }
}

export interface PreflightOptions {
  /** deploy: the tag must exist on the remote; it is fetched (real runs) and the plan's git data read. */
  readonly needTag: boolean;
  /** The state host's history: its presence (default) or its text (rollback chooses its target from it). */
  readonly history?: 'exists' | 'read';
  /** The release folders there are (rollback reuses one). */
  readonly releases?: boolean;
  /**
   * rollback: the tags each host has, instead of a fetch. The git host may be what is down at 3 a.m.;
   * the procedure fetches its target only on a host that lacks it (./target-tags.ts).
   */
  readonly localTags?: boolean;
}

export function preflightTasks(ctx: RunCtx, problems: string[], opts: PreflightOptions): ListrTask<RunCtx>[] {
  return [
    {
      title: `Hosts (${ctx.hosts.length})`,
      task: (_, task) =>
        task.newListr(
          ctx.hosts.map((h) => ({
            title: h.host.name,
            task: async (_c, t) => {
              // every problem is collected, even an unexpected one: preflight reports all at once
              const found = await preflightHost(ctx, h, opts).catch((err: Error) => [err.message]);
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

/** What this host's preflight reads besides its commands, units and working copy. */
function askOf(ctx: RunCtx, h: HostRun, o: PreflightOptions): FactsAsk {
  const first = h === ctx.hosts[0];
  return {
    ...(o.needTag ? { remoteTag: ctx.tag, planTag: first ? ctx.tag : undefined } : {}),
    // touches nothing live (objects and tags); --dry-run runs the read-only form
    fetch: o.needTag && !ctx.dryRun,
    // releases: the folders there are (a rollback reuses one; the prune after a run needs no listing)
    releases: o.releases ?? ctx.env.config.app.strategy === 'releases',
    ...(o.localTags ? { localTags: true } : {}),
    ...(h.host === ctx.state.host ? { state: { dir: ctx.state.dir, history: o.history ?? 'exists' } } : {}),
    // the database is asked from the first host (the dump runs there, or here: see the backup step)
    db: first && !!ctx.env.config.database,
  };
}

async function preflightHost(ctx: RunCtx, h: HostRun, o: PreflightOptions): Promise<string[]> {
  const problems: string[] = [];
  let facts: PreflightFacts;
  try {
    // a real run goes on with commands on every host (the lock or the code): a session opens for them now
    facts = await readHostFacts(ctx.env, h.runner, askOf(ctx, h, o), { signal: ctx.signal, thenMore: !ctx.dryRun });
  } catch (err) {
    if (err instanceof HostKeyError || err instanceof HostUnreachableError) return [err.detail];
    throw err;
  }
  h.facts = facts;
  if (facts.missing.length) problems.push(`commands missing: ${facts.missing.join(', ')} (run doctor for details)`);
  for (const s of facts.services) if (!s.exists) problems.push(`unit ${s.service.unit} not found: ${s.state}`);
  if (facts.workTreeProblem) problems.push(facts.workTreeProblem);
  if (facts.dirty.length) problems.push(`${workTreeOf(ctx.env)} has tracked files changed by hand: ${facts.dirty.join(', ')}; commit or discard them first`);
  if (facts.deployed) h.from = facts.deployed;
  const { app } = ctx.env.config;
  if (o.needTag && problems.length === 0) {
    const r = facts.remoteTag!;
    if (!r.ok && r.missing) problems.push(`tag ${ctx.tag} does not exist on the remote ${app.repo} (push it first: git push origin ${ctx.tag})`);
    else if (!r.ok) problems.push(`cannot ask the remote for tag ${ctx.tag}: ${r.why}`);
  }
  if (facts.fetch && problems.length === 0) {
    if (facts.fetch.ok) h.fetched = true;
    else problems.push(`cannot fetch the tags from ${app.repo}: ${facts.fetch.why}`);
  }
  return problems;
}

/** The database's size came back with the first host's facts; the room for the dump is checked here. */
async function preflightDatabase(ctx: RunCtx): Promise<string[]> {
  const db = ctx.env.config.database!;
  const answer = ctx.hosts[0]!.facts?.dbSize ?? { ok: false as const, why: 'the first host did not answer' };
  if (!answer.ok) return [`database ${db.user}@${db.host}:${db.port}/${db.name} does not answer: ${answer.why}`];
  const size = answer.bytes;
  const fs = await statfs(ctx.env.backupDir);
  const free = fs.bavail * fs.bsize;
  // a custom-format dump is compressed; the whole database size is a safe upper bound
  if (!ctx.flags.skipBackup && free < size) return [`not enough room for the backup in ${ctx.env.backupDir}: ${mbText(free)} free, database is ${mbText(size)}`];
  return [];
}


