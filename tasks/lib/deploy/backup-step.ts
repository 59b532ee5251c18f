/** The backup step of a run: a verified dump before anything live changes, then retention. */
import path from 'node:path';
import type { ListrTaskWrapper } from 'listr2';
import { takeBackup } from '../backup/dump.ts';
import { pruneBackups } from '../backup/retention.ts';
import { secret } from '../config/load.ts';
import { dumpRunnerFor } from '../backup/catalog.ts';
import type { Runner } from '../runners/types.ts';
import type { RunCtx } from './context.ts';

type Task = ListrTaskWrapper<RunCtx, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Where pg_dump and pg_restore run for this run: the first host, or this machine. */
export function backupRunner(ctx: RunCtx): Runner {
  return dumpRunnerFor(ctx.env, ctx.hosts[0]!.runner);
}

export async function backupStep(c: RunCtx, task: Task, what = 'Backup'): Promise<void> {
  const db = c.env.config.database;
  if (c.flags.skipBackup) {
    c.backupSkipped = c.flags.skipBackup;
    task.skip(`${what} skipped: ${c.flags.skipBackup}`);
    return;
  }
  if (!db) {
    task.skip(`${what}: no database configured`);
    return;
  }
  const first = c.hosts[0]!;
  const b = await takeBackup({
    runner: backupRunner(c),
    db,
    password: secret(c.env, db.password),
    format: db.format,
    dir: c.env.backupDir,
    envName: c.env.name,
    fromTag: first.from.tag ?? null,
    toTag: c.tag,
    runId: c.runId,
    signal: c.signal,
    onProgress: (bytes) => (task.output = `${(bytes / 1e6).toFixed(1)} MB`),
  });
  c.backup = { file: b.dumpPath, sha256: b.manifest.sha256, size: b.manifest.sizeBytes };
  task.title = `${what}: ${path.basename(b.dumpPath)} (${(b.manifest.sizeBytes / 1e6).toFixed(2)} MB, verified)`;
  const pruned = await pruneBackups(c.env.backupDir, c.env.config.backups.keep);
  if (pruned.removed.length) c.notes.push(`pruned ${pruned.removed.length} old backup(s) (keep: ${c.env.config.backups.keep})`);
}
