/**
 * rollback [tag]: back to a tag that was verified live before (default: the one below the current
 * tag on the history's live stack, never a release it rolled back from), with the same lock,
 * restart and verification as a deploy. Code only, unless --restore-db: then a fresh safety backup
 * first, and the database restored in one transaction. The target is read in preflight and read
 * again once the lock is held: a run that finished in between makes this one refuse.
 */
import os from 'node:os';
import path from 'node:path';
import type { RestoreSource } from '../backup/source.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { label } from '../base/run.ts';
import { RESTORE_FLAGS } from '../commands/pg.ts';
import { secret, secretValues } from '../config/load.ts';
import { timed, type Task } from '../kernel/listr.ts';
import type { Procedure } from '../kernel/procedure.ts';
import { parseHistory, readHistory } from '../state/history.ts';
import type { HistoryEvent } from '../state/records.ts';
import { currentAndPrevious, deployments, everDeployedOk } from '../state/queries.ts';
import type { RunCtx } from './context.ts';
import { loadWork, work } from './load-work.ts';
import { checkHosts, movingParts } from './moving.ts';
import { fetchWhereMissing } from './target-tags.ts';
import { PreflightError } from './preflight.ts';
import { validateTag } from './tag.ts';

export interface RollbackRequest {
  /** The tag named on the command line (else the history decides). */
  readonly tag?: string;
  readonly force: boolean;
  /** --restore-db: true for the default dump, or the path given. */
  readonly restoreDb?: string | true;
}

export interface RollbackChoice {
  readonly tag: string;
  /** The dump to restore (absolute), when --restore-db was given. */
  readonly restoreFrom?: string;
}

/**
 * The target tag and the dump to restore, from the history on the state host. Default tag: the
 * previous entry of the live stack. Default dump: the one taken before the deploy being undone.
 */
export async function chooseRollback(ctx: RunCtx, o: RollbackRequest, read?: readonly HistoryEvent[]): Promise<RollbackChoice> {
  const { env } = ctx;
  const events = read ?? (await readHistory(ctx.state.runner, ctx.state.dir)).events;
  const live = currentAndPrevious(events);
  const where = `the history on ${ctx.state.host.name} (${ctx.state.dir}/history.jsonl)`;
  // a tag that was live when a deploy started (before cutover's first deploy, say) ran in production too
  const wasLive = (t: string) => everDeployedOk(events, t) || deployments(events).some((d) => d.from === t);
  let tag: string;
  if (o.tag) {
    tag = validateTag(o.tag);
    if (!o.force && !wasLive(tag))
      throw new UsageError(`${tag} was never deployed and verified here, nor live before a deploy, per ${where}. Check the tag, or pass --force to roll back to it anyway.`);
  } else {
    if (!live.previous)
      throw new UsageError(
        `there is nothing older to roll back to in ${where}: ${live.current ? `${live.current} is live, and what ran before it was rolled back from or never verified` : 'no deploy was verified yet'}. ` +
          `Name the tag to go to: npx tsx tasks/rollback.ts <tag> --env ${env.name} (add --force for a tag never verified here).`,
      );
    tag = live.previous;
  }
  if (o.restoreDb === undefined) return { tag };
  if (o.restoreDb !== true) return { tag, restoreFrom: path.resolve(o.restoreDb) };
  // the dump taken by the run that made the current tag live: the data as it was before it (found
  // in this machine's backup folder by file name: the history may hold another machine's path)
  const undone = live.currentRun;
  const [{ dumpOfDeployment }, { listBackups }] = await Promise.all([import('../backup/protection.ts'), import('../backup/retention.ts')]);
  const file = undone ? dumpOfDeployment(undone, await listBackups(env.backupDir))?.dumpPath : undefined;
  if (!file) throw new UsageError(`no backup is recorded for the deploy of ${live.current ?? 'the current tag'}; name one: --restore-db backups/${env.name}/<file>.dump (list them: npx tsx tasks/backup.ts list --env ${env.name})`);
  return { tag, restoreFrom: file };
}

/** The restore source, checked completely before anything live changes: the plan's lines. */
function restoreSourceLines(source: RestoreSource): string[] {
  const m = source.manifest;
  return [
    `  database: a safety backup of ${m.database} now, then ${m.database} is REPLACED by ${path.relative(process.cwd(), source.dumpPath)}`,
    `    (taken ${m.createdAt} before ${m.fromTag ?? '?'} -> ${m.toTag}; read completely just now, sha256 matches; pg_restore ${RESTORE_FLAGS.join(' ')}; row counts compared after)`,
    `    data written since then is lost (it stays in the safety backup)`,
  ];
}

export function rollbackProcedure(request: RollbackRequest): Procedure<RunCtx> {
  let choice: RollbackChoice | null = null;
  let source: RestoreSource | null = null;
  return {
    ...movingParts,
    task: 'rollback',

    async preflight(ctx, list) {
      const loading = loadWork(); // while the hosts answer
      // the history comes with the state host's facts when it is one of the hosts (one round trip)
      await checkHosts(ctx, list, { needTag: false, history: 'read', releases: true, localTags: true });
      await loading;
      const read = ctx.hosts.find((h) => h.host === ctx.state.host)?.facts?.history;
      choice = await chooseRollback(ctx, request, read?.ok ? parseHistory(read.text).events : undefined);
      ctx.tag = choice.tag;
      const target = await fetchWhereMissing(ctx);
      if (target.problems.length) throw new PreflightError(target.problems);
      const lines = ['', `Plan: roll ${ctx.env.name} back to ${ctx.tag} (${ctx.env.file}), run ${ctx.runId} by ${ctx.who}`];
      for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${ctx.tag}`);
      lines.push(...target.lines);
      if (ctx.env.config.app.strategy === 'releases') lines.push(`  releases: switch current back to ${ctx.tag}'s release folder (no reinstall when it is still there)`);
      if (choice.restoreFrom) {
        // this environment's, this database's, read completely: before anything live changes
        const { checkRestoreSource } = await import('../backup/source.ts');
        source = await checkRestoreSource(ctx.env, choice.restoreFrom, { signal: ctx.signal, target: { runner: work().backupRunner(ctx), password: secret(ctx.env, ctx.env.config.database?.password) } });
        lines.push(...restoreSourceLines(source));
      }
      else
        lines.push(
          '  database: NOT touched. This is a code-only rollback: migrations applied since do stay (the old code runs on the newer schema).',
          `    To put the data back too: --restore-db (the backup taken before the deploy being undone) or --restore-db <file>.`,
        );
      lines.push('  then: restart, verify (the same checks as a deploy); on failure: stop and report (exit 3)', '');
      return lines;
    },

    async recheck(ctx) {
      const changed = (why: string) =>
        new UsageError(`the history changed while this run waited for the lock (another run finished): ${why}. Nothing was changed; run it again to see the new plan.`);
      const now = await chooseRollback(ctx, request).catch((err: Error) => {
        throw changed(err.message);
      });
      if (now.tag !== choice!.tag || now.restoreFrom !== choice!.restoreFrom)
        throw changed(`rollback would now go to ${now.tag}${now.restoreFrom ? ` restoring ${path.basename(now.restoreFrom)}` : ''}, not ${choice!.tag}`);
    },

    work: (ctx) =>
      work().deployTasks(ctx, {
        migrate: false,
        reuseRelease: true,
        backup: async (c, task) => {
          if (!choice!.restoreFrom) return void task.skip('No backup: code-only rollback, the database is not touched');
          await work().backupStep(c, task, 'Safety backup');
        },
        beforeRestart: source ? [restoreTask(source)] : [],
      }),

    // retention only after the rollback verified; never the dump it restored
    async afterSuccess(ctx) {
      if (!ctx.backup) return [];
      return [...(await work().pruneAfterRun(ctx.env, ctx.state.runner, source ? { restoring: source.dumpPath } : {})).notes];
    },

    // no automatic undo of a rollback: a failure stops and says where each host is (exit 3)
    async recover(ctx) {
      return movingParts.changedAnything(ctx) ? 'needs-attention' : 'refused';
    },
  };
}

function restoreTask(source: RestoreSource) {
  const file = path.basename(source.dumpPath);
  return {
    title: `Restore the database from ${file}`,
    task: timed('restore-db', async (c: RunCtx, task: Task<RunCtx>) => {
      const db = c.env.config.database!;
      const runner = work().backupRunner(c);
      if (c.dry) {
        c.dry.add(runner.host.name, `pg_restore ${RESTORE_FLAGS.join(' ')} of ${path.relative(process.cwd(), source.dumpPath)} (uploaded first), then the row counts compared with its manifest`);
        return;
      }
      for (const h of c.hosts) if (h.stage === 'untouched') h.stage = 'code-changed'; // the data is live too
      const { runRestore } = await import('../backup/restore-run.ts');
      const r = await runRestore({
        runner, db, password: secret(c.env, db.password), source, backupDir: c.env.backupDir, envName: c.env.name,
        liveTag: c.hosts[0]!.from.tag ?? null, runId: c.runId,
        // where the dump is uploaded for pg_restore: the state folder on the host, or here when pg_restore runs here
        scratchDir: db.dumpOn === 'local' ? os.tmpdir() : c.state.dir,
        signal: c.signal, secrets: secretValues(c.env),
        // the safety backup this run took before anything live changed
        ...(c.backupTaken ? { safety: c.backupTaken } : {}),
        onProgress: (p) => (task.output = c.redact(p.message)),
      });
      c.steps.push(...r.steps);
      c.notes.push(...r.notes);
      if (r.outcome === 'restored') {
        task.title = `Database restored from ${file}: ${Object.keys(r.countsAfter ?? {}).length} tables, row counts equal to the backup's`;
        c.notes.push(`database restored from ${source.dumpPath}`);
        return;
      }
      const state = { 'as-before': 'the database is as it was before', 'as-backup': `the database holds the data of ${file}`, unknown: 'the state of the database is UNKNOWN' }[r.dataState];
      throw new CutoverError(`the database restore ended ${r.outcome}: ${state}${r.error ? ` (${r.error})` : ''}; the safety backup: ${r.safety ? path.relative(process.cwd(), r.safety.dumpPath) : 'none'}`, ExitCode.needsHuman);
    }),
  };
}
