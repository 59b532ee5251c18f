/**
 * Take a backup: pg_dump runs wherever the runner runs it (an app host over SSH, the dump streamed
 * back through the channel; or this machine), and its standard output is streamed into
 * `<dir>/<name>.partial` (0600) while sha256 and size are computed. Only a pg_dump that exited 0
 * is renamed to its final name; then it is read completely (verifyBackup) and the manifest is
 * written beside it. A failed dump leaves no file behind and throws BackupFailedError.
 */
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { display, type Command } from '../commands/shell.ts';
import { parseRowCounts, pg, type DumpFormat, type PgTarget } from '../commands/pg.ts';
import { ExitCode } from '../base/errors.ts';
import { lastLines } from '../runners/run.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { BackupFailedError } from './errors.ts';
import { HashingFileSink } from './file-sink.ts';
import { VERIFIED_BY, writeManifest, type BackupManifest } from './manifest.ts';
import { backupBaseName, dumpExtension, manifestPathFor, MANIFEST_EXT, PARTIAL_SUFFIX } from './names.ts';
import { verifyBackup, type VerifyOptions, type VerifyResult } from './integrity.ts';

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
  /** Verify after the dump (default true); the manifest's `verified` is null when false. */
  readonly verify?: boolean;
  /** Where pg_restore runs for the verification (default this machine). */
  readonly verifyRunner?: VerifyOptions['runner'];
  /** Bytes written so far, after each chunk (throttle it yourself). */
  readonly onProgress?: (bytes: number) => void;
}

export interface Backup {
  readonly dumpPath: string;
  readonly manifestPath: string;
  readonly manifest: BackupManifest;
  readonly verification: VerifyResult | null;
}

/** What takeBackup would run, for --dry-run: the commands on the host, then the check here. */
export function backupPlan(o: Pick<TakeBackupOptions, 'db' | 'password' | 'format' | 'dir' | 'fromTag' | 'toTag' | 'now'>): {
  dumpPath: string;
  onHost: Command[];
  here: Command[];
} {
  const dumpPath = path.join(o.dir, backupBaseName(o.now ?? new Date(), o.fromTag, o.toTag) + dumpExtension(o.format));
  return {
    dumpPath,
    onHost: [pg.dump(o.db, o.format, o.password), pg.serverVersion(o.db, o.password), pg.rowCounts(o.db, o.password)],
    here: o.format === 'custom' ? [pg.readDump(dumpPath)] : [],
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
  const sink = new HashingFileSink(fh, { onFailure: () => stop.abort(), onProgress: o.onProgress });
  const dumpCmd = pg.dump(o.db, o.format, o.password);
  const started = performance.now();
  let durationMs = 0;
  let timedOut = false;
  // our own timer, not the runner's timeoutMs: stopping through `signal` is what reportsAfterAbort watches
  const timer = o.timeoutMs ? setTimeout(() => ((timedOut = true), stop.abort()), o.timeoutMs) : undefined;

  // version and row counts run beside the dump (their own SSH channels): they cost no wall time
  const [dumped, meta] = await Promise.allSettled([
    reportsAfterAbort(o.runner.exec(dumpCmd, { sink, signal }), signal, host).finally(() => {
      durationMs = Math.round(performance.now() - started);
      clearTimeout(timer);
    }),
    metadata(o.runner, o.db, o.password, signal),
  ]);
  if (!sink.writableFinished) sink.destroy(); // the runner threw before ending it
  await waitClosed(sink);

  const fail = async (what: string, cmd: Command | null, tail: string): Promise<never> => {
    await rm(partial, { force: true });
    throw new BackupFailedError({ host, what, command: cmd ? display(cmd, [o.password ?? '']) : undefined, stderrTail: tail, next: NEXT_DUMP, exitCode: exitCode() });
  };
  if (dumped.status === 'rejected') return fail(`pg_dump could not run: ${(dumped.reason as Error).message}`, dumpCmd, '');
  const r = timedOut ? { ...dumped.value, error: `timed out after ${o.timeoutMs} ms` } : dumped.value;
  if (sink.failure) return fail(`cannot write the dump to ${partial}: ${sink.failure.message}`, dumpCmd, lastLines(r.stderr, 20));
  if (r.code !== 0) return fail(`pg_dump ${how(r)}`, dumpCmd, lastLines(r.stderr, 20));
  if (sink.lateOutput) return fail('the runner closed the dump file before all of the output arrived', dumpCmd, lastLines(r.stderr, 20));
  if (meta.status === 'rejected') {
    const e = meta.reason as Error & { cmd?: Command; result?: ExecResult };
    return fail(e.message, e.cmd ?? null, e.result ? lastLines(e.result.stderr, 20) : '');
  }

  await rename(partial, dumpPath);
  const manifest: BackupManifest = {
    manifestVersion: 1,
    file: path.basename(dumpPath),
    envName: o.envName,
    database: o.db.name,
    host,
    dbAddress: `${o.db.host}:${o.db.port}`,
    dbUser: o.db.user,
    serverVersion: meta.value.serverVersion,
    format: o.format,
    sizeBytes: sink.bytes,
    sha256: sink.digest(),
    durationMs,
    fromTag: o.fromTag,
    toTag: o.toTag,
    runId: o.runId,
    createdAt: at.toISOString(),
    rowCounts: meta.value.rowCounts,
    verified: null,
  };
  if (o.verify === false) {
    await writeManifest(manifestPath, manifest);
    return { dumpPath, manifestPath, manifest, verification: null };
  }

  let verification: VerifyResult | null = null;
  try {
    verification = await verifyBackup(dumpPath, manifest, { runner: o.verifyRunner, signal: o.signal });
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

interface Meta {
  serverVersion: string;
  rowCounts: Record<string, number>;
}

async function metadata(runner: Runner, db: PgTarget, password: string | undefined, signal: AbortSignal): Promise<Meta> {
  const version = await runOrExplain(runner, pg.serverVersion(db, password), 'psql could not read the server version', signal);
  const counts = await runOrExplain(runner, pg.rowCounts(db, password), 'psql could not count the rows of each table', signal);
  try {
    return { serverVersion: version.stdout.trim(), rowCounts: parseRowCounts(counts.stdout) };
  } catch (err) {
    throw Object.assign(new Error(`cannot read the row counts: ${(err as Error).message}`), { cmd: pg.rowCounts(db, password) });
  }
}

async function runOrExplain(runner: Runner, cmd: Command, what: string, signal: AbortSignal): Promise<ExecResult> {
  const r = await runner.exec(cmd, { signal });
  if (r.code !== 0) throw Object.assign(new Error(`${what}: it ${how(r)}`), { cmd, result: r });
  return r;
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

function how(r: ExecResult): string {
  if (r.code !== null) return `exited ${r.code}`;
  return `was stopped (${r.error ?? (r.signal ? `killed by ${r.signal}` : 'no exit code')})`;
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
