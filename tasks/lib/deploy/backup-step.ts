/** The backup step of a run: a verified dump before anything live changes (retention runs after the run succeeded). */
import path from 'node:path';
import { backupPlan, takeBackup } from '../backup/dump.ts';
import { dumpRunnerFor } from '../backup/catalog.ts';
import { startPendingDump } from '../backup/pending-dump.ts';
import { connectSnapshotSession } from '../backup/snapshot.ts';
import { mbText } from '../base/format.ts';
import { secret } from '../config/load.ts';
import type { Task } from '../kernel/listr.ts';
import type { Runner } from '../runners/types.ts';
import type { RunCtx } from './context.ts';

/** Where pg_dump and pg_restore run for this run: the first host, or this machine. */
export function backupRunner(ctx: RunCtx): Runner {
  return dumpRunnerFor(ctx.env, ctx.hosts[0]!.runner);
}

/** The dump's size so far, shown at most every 250 ms (a chunk arrives every few KiB: a line per chunk costs time and memory). */
function progress(show: (text: string) => void): (bytes: number) => void {
  let last = 0;
  return (bytes) => {
    const now = performance.now();
    if (now - last < 250) return;
    last = now;
    show(mbText(bytes));
  };
}

/**
 * Beside the lock command: the backup's snapshot session starts and connects (psql, its password),
 * exporting no snapshot until backupStep begins it under the lock, and pg_dump's command starts
 * too, waiting for that snapshot's id. The backup's path then costs two exchanges on open
 * channels instead of two commands' starts. null when no backup runs.
 */
export function connectBackupSession(c: RunCtx): { dispose(): Promise<void> } | null {
  const db = c.env.config.database;
  if (c.dryRun || c.flags.skipBackup || !db) return null;
  const password = secret(c.env, db.password);
  const session = connectSnapshotSession(backupRunner(c), db, password, c.signal);
  const dump = startPendingDump(backupRunner(c), db, db.format, password, c.signal);
  c.snapshotSession = session;
  c.pendingDump = dump;
  return { dispose: async () => void (await Promise.all([session.drop(), dump.drop()])) };
}

export async function backupStep(c: RunCtx, task: Task<RunCtx>, what = 'Backup'): Promise<void> {
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
  const password = secret(c.env, db.password);
  if (c.dry) {
    const p = backupPlan({ db, password, format: db.format, dir: c.env.backupDir, fromTag: first.from.tag ?? null, toTag: c.tag });
    const where = backupRunner(c).host.name;
    for (const cmd of p.onHost) c.dry.command(where, cmd);
    c.dry.add('this machine', `the dump streams into ${path.relative(process.cwd(), p.dumpPath)} (mode 0600) ${p.hereReads}`);
    for (const cmd of p.here) c.dry.command('this machine', cmd);
    return;
  }
  const session = c.snapshotSession;
  const dump = c.pendingDump;
  c.snapshotSession = undefined; // one backup per session
  c.pendingDump = undefined;
  const b = await takeBackup({
    runner: backupRunner(c),
    db,
    password,
    format: db.format,
    dir: c.env.backupDir,
    envName: c.env.name,
    fromTag: first.from.tag ?? null,
    toTag: c.tag,
    runId: c.runId,
    signal: c.signal,
    ...(session ? { session } : {}),
    ...(dump ? { dump } : {}),
    onProgress: progress((text) => (task.output = text)),
  });
  c.backup = { file: b.dumpPath, sha256: b.manifest.sha256, size: b.manifest.sizeBytes };
  c.backupTaken = b;
  task.title = `${what}: ${path.basename(b.dumpPath)} (${(b.manifest.sizeBytes / 1e6).toFixed(2)} MB, verified)`;
}
