/**
 * Take a backup: pg_dump runs wherever the runner runs it (an app host over SSH, the dump streamed
 * back through the channel; or this machine), and its standard output is streamed into
 * `<dir>/<name>.partial` (0600) while sha256 and size are computed. pg_dump reads the snapshot a
 * psql session exported and keeps open (snapshot.ts), and that session counts every table's rows
 * in the same snapshot: the manifest's counts are exactly the dump's. A custom-format dump is read
 * completely by pg_restore here as it arrives (stream-read.ts). Only a pg_dump that exited 0 is
 * renamed to its final name; then the file is checked (verifyBackup: size and sha256 re-read from
 * disk, plain format's last lines) and the manifest is written beside it. A failed dump leaves no
 * file behind and throws BackupFailedError.
 */
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { display, type Command } from '../commands/shell.ts';
import { DUMP_OPTIONS, pg, SNAPSHOT_SQL, type DumpFormat, type PgTarget } from '../commands/pg.ts';
import { ExitCode } from '../base/errors.ts';
import { lastLines } from '../runners/run.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { CountError, how } from './counts.ts';
import { BackupFailedError } from './errors.ts';
import { HashingFileSink } from './file-sink.ts';
import { VERIFIED_BY, writeManifest, type BackupManifest } from './manifest.ts';
import { backupBaseName, dumpExtension, manifestPathFor, MANIFEST_EXT, PARTIAL_SUFFIX } from './names.ts';
import { verifyBackup, type VerifyResult } from './integrity.ts';
import { startPendingDump, type PendingDump } from './pending-dump.ts';
import { connectSnapshotSession, type PendingSnapshotSession, type SnapshotSession } from './snapshot.ts';
import { startStreamRead } from './stream-read.ts';

export interface TakeBackupOptions {
  readonly runner: Runner;
  readonly db: PgTarget;
  readonly password?: string;
  readonly format: DumpFormat;
  /** Local folder for dumps and manifests; created 0700. */
  readonly dir: string;
  readonly envName: string;
  /** The tag deployed now (null: nothing deployed yet) and the one being deployed. */
  readonly fromTag: string | null;
  readonly toTag: string;
  readonly runId: string;
  /** Start time, in the file name and the manifest's createdAt (default: now). */
  readonly now?: Date;
  readonly signal?: AbortSignal;
  /** Kill pg_dump after this long. */
  readonly timeoutMs?: number;
  /** Verify the dump (default true); the manifest's `verified` is null when false. */
  readonly verify?: boolean;
  /** A snapshot session connected earlier (beside the lock command): begun here instead of a new one. */
  readonly session?: PendingSnapshotSession;
  /** pg_dump's command started earlier with it, waiting for the snapshot id; started here instead of a new one. */
  readonly dump?: PendingDump;
  /** Bytes written so far, after each chunk (throttle it yourself). */
  readonly onProgress?: (bytes: number) => void;
}

export interface Backup {
  readonly dumpPath: string;
  readonly manifestPath: string;
  readonly manifest: BackupManifest;
  readonly verification: VerifyResult | null;
}

/**
 * What takeBackup would run, for --dry-run: the commands on the host (the first, the snapshot
 * session, reads `sessionReads` on its standard input, in that order), then the check here.
 * takeBackup itself needs a real runner: it writes the dump and its manifest.
 */
export function backupPlan(o: Pick<TakeBackupOptions, 'db' | 'password' | 'format' | 'dir' | 'fromTag' | 'toTag' | 'now'>): {
  dumpPath: string;
  onHost: Command[];
  sessionReads: string[];
  here: Command[];
  /** How `here` reads it, after "the dump streams into <file> (mode 0600)". */
  hereReads: string;
} {
  const dumpPath = path.join(o.dir, backupBaseName(o.now ?? new Date(), o.fromTag, o.toTag) + dumpExtension(o.format));
  return {
    dumpPath,
    onHost: [pg.snapshotSession(o.db, o.password), pg.dump(o.db, o.format, o.password)],
    sessionReads: [SNAPSHOT_SQL.open, SNAPSHOT_SQL.counts, SNAPSHOT_SQL.close],
    here: o.format === 'custom' ? [pg.readDumpStream()] : [],
    hereReads: o.format === 'custom' ? 'and, as it arrives, into pg_restore here, which reads all of it (then the file is re-hashed from disk):' : 'then its size, sha256 and last lines are checked',
  };
}

const HERE = 'this machine';
const NEXT_DUMP =
  'Nothing was changed on any host and no dump was kept. Check the database settings (name, host, port, user, password) and that pg_dump can reach the server from where it runs, then deploy again.';

export async function takeBackup(o: TakeBackupOptions): Promise<Backup> {
  const host = o.runner.host.name;
  const at = o.now ?? new Date();
  const exitCode = () => (o.signal?.aborted ? ExitCode.interrupted : ExitCode.refused);
  if (o.signal?.aborted) throw new BackupFailedError({ host, what: 'the backup was cancelled before it started', next: 'Nothing was changed.', exitCode: ExitCode.interrupted });

  let dumpPath: string;
  let fh: FileHandle;
  try {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    await chmod(o.dir, 0o700); // an existing folder may have been created wider
    dumpPath = await freePath(o.dir, at, o.fromTag, o.toTag, o.format);
    fh = await open(dumpPath + PARTIAL_SUFFIX, 'wx', 0o600);
  } catch (err) {
    throw new BackupFailedError({ host: HERE, what: `cannot create a dump file in ${o.dir}: ${(err as Error).message}`, next: 'Nothing was changed on any host. Fix the backup folder (backups.dir) or its permissions, then deploy again.' });
  }
  const partial = dumpPath + PARTIAL_SUFFIX;
  const manifestPath = manifestPathFor(dumpPath);

  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  // started now, so pg_restore is running when the first bytes come (the session opens meanwhile)
  const reader = o.verify !== false && o.format === 'custom' ? startStreamRead(signal) : null;
  const sink = new HashingFileSink(fh, { onFailure: () => stop.abort(), onProgress: o.onProgress, ...(reader ? { copy: (c: Buffer) => reader.feed(c) } : {}) });
  let timedOut = false;
  // our own timer, not the runner's timeoutMs: stopping through `signal` is what reportsAfterAbort watches
  const timer = o.timeoutMs ? setTimeout(() => ((timedOut = true), stop.abort()), o.timeoutMs) : undefined;
  const settle = (run: Promise<ExecResult>) => reportsAfterAbort(run, signal, host);
  const fail = async (what: string, cmd: string | null, tail: string): Promise<never> => {
    clearTimeout(timer);
    if (!sink.writableFinished) sink.destroy(); // the runner threw before ending it, or it never ran
    await waitClosed(sink);
    await reader?.cancel();
    await rm(partial, { force: true });
    throw new BackupFailedError({ host, what, command: cmd ?? undefined, stderrTail: tail, next: NEXT_DUMP, exitCode: exitCode() });
  };
  const countFailure = (err: unknown) => {
    if (!(err instanceof CountError)) return fail((err as Error).message, null, '');
    const stopped = timedOut ? ` (timed out after ${o.timeoutMs} ms)` : '';
    return fail(`${err.message}${stopped}`, err.command, err.result ? lastLines(err.result.stderr, 20) : '');
  };

  let session: SnapshotSession;
  try {
    session = await (o.session ?? connectSnapshotSession(o.runner, o.db, o.password, signal)).begin(signal, settle);
  } catch (err) {
    await o.dump?.drop();
    return countFailure(err);
  }
  const dump = o.dump ?? startPendingDump(o.runner, o.db, o.format, o.password, signal);
  const shown = display(dump.command, [o.password ?? '']);
  const started = performance.now();
  const dumped = await settle(dump.start(session.snapshot, sink, signal)).then(
    // stopped by our timer: pg_dump may still exit on its own (1, its output cut) before the kill is reported; the cause is the limit
    (r) => ({ r: timedOut && r.code !== 0 ? { ...r, code: null, error: `timed out after ${o.timeoutMs} ms` } : r }),
    (e: unknown) => ({ e: e as Error }),
  );
  const durationMs = Math.round(performance.now() - started);
  if (!sink.writableFinished) sink.destroy();
  await waitClosed(sink);

  const dumpProblem =
    'e' in dumped ? `pg_dump could not run: ${dumped.e.message}`
    : sink.failure ? `cannot write the dump to ${partial}: ${sink.failure.message}`
    : dumped.r.code !== 0 ? `pg_dump ${how(dumped.r)}`
    : sink.lateOutput ? 'the runner closed the dump file before all of the output arrived'
    : null;
  if (dumpProblem !== null) {
    await session.abandon();
    return fail(dumpProblem, shown, 'r' in dumped ? lastLines(dumped.r.stderr, 20) : '');
  }
  let rowCounts: Record<string, number>;
  try {
    rowCounts = await session.finish();
  } catch (err) {
    return countFailure(err);
  }
  clearTimeout(timer);

  await rename(partial, dumpPath);
  const manifest: BackupManifest = {
    manifestVersion: 1,
    file: path.basename(dumpPath),
    envName: o.envName,
    database: o.db.name,
    host,
    dbAddress: `${o.db.host}:${o.db.port}`,
    dbUser: o.db.user,
    serverVersion: session.serverVersion,
    format: o.format,
    dumpOptions: [...DUMP_OPTIONS[o.format]],
    sizeBytes: sink.bytes,
    sha256: sink.digest(),
    durationMs,
    fromTag: o.fromTag,
    toTag: o.toTag,
    runId: o.runId,
    createdAt: at.toISOString(),
    rowCounts,
    rowCountsFrom: 'dump-snapshot',
    verified: null,
  };
  if (o.verify === false) {
    await writeManifest(manifestPath, manifest);
    return { dumpPath, manifestPath, manifest, verification: null };
  }

  let verification: VerifyResult | null = null;
  try {
    const read = reader ? await reader.end(dumpPath) : undefined;
    verification = await verifyBackup(dumpPath, manifest, { signal: o.signal, ...(read !== undefined ? { read } : {}) });
  } catch (err) {
    if (!o.signal?.aborted) throw err;
  }
  if (o.signal?.aborted || !verification) {
    // an interrupted check says nothing about the dump: it stays, described, and unverified
    await writeManifest(manifestPath, manifest);
    throw new BackupFailedError({ host, what: `interrupted while verifying ${dumpPath}`, next: 'Nothing was changed on any host. The dump is kept with its manifest, marked unverified.', exitCode: ExitCode.interrupted });
  }
  const problems = verification.problems.map((p) => p.message);
  const final: BackupManifest = {
    ...manifest,
    verified: { at: new Date().toISOString(), by: VERIFIED_BY[o.format], ok: verification.ok, ...(verification.ok ? {} : { problems }) },
  };
  await writeManifest(manifestPath, final);
  if (!verification.ok)
    // kept for inspection; its manifest says verified.ok = false, so nothing restores it by default
    throw new BackupFailedError({
      host,
      what: `the dump ${dumpPath} failed verification (${VERIFIED_BY[o.format]})`,
      stderrTail: problems.join('\n'),
      next: `Nothing was changed on any host. The dump and its manifest are kept for inspection, marked as failed. Check the disk here, and that pg_restore here is at least as new as pg_dump on ${host}, then deploy again.`,
    });
  return { dumpPath, manifestPath, manifest: final, verification };
}

/** How long a runner may take to report a command it was told to stop. */
const ABORT_GRACE_MS = 3000;

/**
 * After an abort, a runner that does not report back within ABORT_GRACE_MS is taken as stopped.
 * LocalRunner can otherwise wait forever: zx destroys the child's stdout when it kills it, so a
 * piped sink is never ended and its 'finish' never comes.
 */
function reportsAfterAbort(run: Promise<ExecResult>, signal: AbortSignal, host: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => resolve({ host, code: null, error: 'aborted', stdout: '', stderr: '', stdoutBytes: 0, durationMs: 0 }), ABORT_GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    run.then(
      (r) => (done(), resolve(r)),
      (e: unknown) => (done(), reject(e)),
    );
  });
}

/** The first name free for the dump, its manifest and their partials (a second backup in the same second gets `-2`). */
async function freePath(dir: string, at: Date, fromTag: string | null, toTag: string, format: DumpFormat): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const base = path.join(dir, backupBaseName(at, fromTag, toTag, attempt));
    const taken = await Promise.all(
      ['.dump', '.sql', MANIFEST_EXT].flatMap((ext) => [base + ext, base + ext + PARTIAL_SUFFIX]).map((p) => stat(p).then(() => true, () => false)),
    );
    if (!taken.includes(true)) return base + dumpExtension(format);
  }
}

function waitClosed(sink: HashingFileSink): Promise<void> {
  if (sink.closed) return Promise.resolve();
  return new Promise((resolve) => sink.once('close', () => resolve()));
}
