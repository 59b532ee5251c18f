/**
 * rollback [tag]: back to a tag that was verified live before (default: the one below the current
 * tag on the history's live stack, never a release it rolled back from), with the same lock,
 * restart and verification as a deploy. Code only, unless --restore-db: then a fresh safety backup
 * first, and the database restored in one transaction. The target is read in preflight and read
 * again once the lock is held: a run that finished in between makes this one refuse.
 */
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../backup/manifest.ts';
import { manifestPathFor } from '../backup/names.ts';
import { listBackups } from '../backup/retention.ts';
import { restoreDatabase } from '../backup/restore.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { label } from '../base/run.ts';
import { RESTORE_FLAGS } from '../commands/pg.ts';
import { secret, secretValues } from '../config/load.ts';
import { timed, type Task } from '../kernel/listr.ts';
import type { Procedure } from '../kernel/procedure.ts';
import { readHistory } from '../state/history.ts';
import { currentAndPrevious, deployments, everDeployedOk } from '../state/queries.ts';
import { backupRunner, backupStep } from './backup-step.ts';
import type { RunCtx } from './context.ts';
import { deployTasks } from './graph.ts';
import { checkHosts, movingParts } from './moving.ts';
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
export async function chooseRollback(ctx: RunCtx, o: RollbackRequest): Promise<RollbackChoice> {
  const { env } = ctx;
  const { events } = await readHistory(ctx.state.runner, ctx.state.dir);
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
  // the dump taken by the run that made the current tag live: the data as it was before it
  const undone = live.currentRun;
  const file = undone?.backupFile ?? (await listBackups(env.backupDir)).find((b) => b.manifest.toTag === live.current)?.dumpPath;
  if (!file) throw new UsageError(`no backup is recorded for the deploy of ${live.current ?? 'the current tag'}; name one: --restore-db backups/${env.name}/<file>.dump (list them: npx tsx tasks/backup.ts list --env ${env.name})`);
  return { tag, restoreFrom: file };
}

/** The restore source, checked completely before anything live changes: its manifest, its environment and database. */
async function checkRestoreSource(ctx: RunCtx, dumpPath: string): Promise<string[]> {
  const db = ctx.env.config.database;
  if (!db) throw new UsageError(`--restore-db: ${ctx.env.file} has no database`);
  const m = await readManifest(manifestPathFor(dumpPath));
  if (!m.ok) throw new UsageError(`--restore-db ${dumpPath}: ${m.problem}. Nothing was changed.`);
  if (m.manifest.envName !== ctx.env.name)
    throw new UsageError(`--restore-db ${dumpPath} is a backup of environment ${m.manifest.envName}, not ${ctx.env.name}: a rollback refuses to cross environments. Nothing was changed.`);
  if (m.manifest.database !== db.name) throw new UsageError(`--restore-db ${dumpPath} is a backup of database ${m.manifest.database}, but ${ctx.env.file} names ${db.name}. Nothing was changed.`);
  const { verifyBackup } = await import('../backup/integrity.ts');
  const check = await verifyBackup(dumpPath, m.manifest, { signal: ctx.signal });
  if (!check.ok) throw new UsageError(`--restore-db ${dumpPath} cannot be restored: ${check.problems.map((p) => p.message).join('; ')}. Nothing was changed.`);
  return [
    `  database: a safety backup of ${m.manifest.database} now, then ${m.manifest.database} is REPLACED by ${path.relative(process.cwd(), dumpPath)}`,
    `    (taken ${m.manifest.createdAt} before ${m.manifest.fromTag ?? '?'} -> ${m.manifest.toTag}; read completely just now, sha256 matches; pg_restore ${RESTORE_FLAGS.join(' ')}; row counts compared after)`,
    `    data written since then is lost (it stays in the safety backup)`,
  ];
}

export function rollbackProcedure(request: RollbackRequest): Procedure<RunCtx> {
  let choice: RollbackChoice | null = null;
  return {
    ...movingParts,
    task: 'rollback',

    async preflight(ctx, list) {
      choice = await chooseRollback(ctx, request);
      ctx.tag = choice.tag;
      await checkHosts(ctx, list, false);
      const lines = ['', `Plan: roll ${ctx.env.name} back to ${ctx.tag} (${ctx.env.file}), run ${ctx.runId} by ${ctx.who}`];
      for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${ctx.tag}`);
      if (ctx.env.config.app.strategy === 'releases') lines.push(`  releases: switch current back to ${ctx.tag}'s release folder (no reinstall when it is still there)`);
      if (choice.restoreFrom) lines.push(...(await checkRestoreSource(ctx, choice.restoreFrom)));
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
      deployTasks(ctx, {
        migrate: false,
        reuseRelease: true,
        backup: async (c, task) => {
          if (!choice!.restoreFrom) return void task.skip('No backup: code-only rollback, the database is not touched');
          await backupStep(c, task, 'Safety backup');
        },
        beforeRestart: choice!.restoreFrom ? [restoreTask(choice!.restoreFrom)] : [],
      }),

    // no automatic undo of a rollback: a failure stops and says where each host is (exit 3)
    async recover(ctx) {
      return movingParts.changedAnything(ctx) ? 'needs-attention' : 'refused';
    },
  };
}

function restoreTask(dumpPath: string) {
  return {
    title: `Restore the database from ${path.basename(dumpPath)}`,
    task: timed('restore-db', async (c: RunCtx, task: Task<RunCtx>) => {
      const db = c.env.config.database!;
      if (c.dry) {
        c.dry.add(backupRunner(c).host.name, `pg_restore ${RESTORE_FLAGS.join(' ')} of ${path.relative(process.cwd(), dumpPath)} (uploaded first), then the row counts compared with its manifest`);
        return;
      }
      const m = await readManifest(manifestPathFor(dumpPath));
      if (!m.ok) throw new CutoverError(`cannot restore ${dumpPath}: ${m.problem}`, ExitCode.refused);
      for (const h of c.hosts) if (h.stage === 'untouched') h.stage = 'code-changed'; // the data is live too
      const r = await restoreDatabase({
        runner: backupRunner(c),
        db,
        password: secret(c.env, db.password),
        dumpPath,
        manifest: m.manifest,
        // where the dump is uploaded for pg_restore: the host's state folder, or here when pg_restore runs here
        scratchDir: db.dumpOn === 'local' ? os.tmpdir() : c.state.dir,
        runId: c.runId,
        signal: c.signal,
        secrets: secretValues(c.env),
      });
      if (r.mismatches.length) throw new CutoverError(`restored, but the row counts differ from the backup's: ${r.mismatches.join('; ')}`, ExitCode.needsHuman);
      task.title = `Database restored from ${path.basename(dumpPath)}: ${Object.keys(r.rowCounts).length} tables, row counts equal to the backup's`;
      c.notes.push(`database restored from ${dumpPath}`);
    }),
  };
}
