/**
 * Is a dump restorable? Custom format: `pg_restore -f /dev/null FILE` on this machine reads every
 * byte (`pg_restore --list` reads only the table of contents and passes a dump cut in half).
 * Plain format: the file ends with pg_dump's completion comment. Both: size and sha256 against
 * the manifest, when there is one.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { pg, type DumpFormat } from '../commands/pg.ts';
import { thisMachine } from '../runners/local.ts';
import { lastLines } from '../runners/run.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { VERIFIED_BY, type BackupManifest } from './manifest.ts';

export type VerifyProblemKind = 'missing' | 'truncated' | 'size-mismatch' | 'checksum-mismatch' | 'unreadable';

export interface VerifyProblem {
  readonly kind: VerifyProblemKind;
  readonly message: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly file: string;
  readonly format: DumpFormat | null;
  readonly by: (typeof VERIFIED_BY)[DumpFormat] | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly durationMs: number;
  /** Empty when ok; otherwise every problem found, each saying what is wrong. */
  readonly problems: readonly VerifyProblem[];
}

export interface VerifyOptions {
  /** Where pg_restore runs; default this machine. */
  readonly runner?: Runner;
  readonly signal?: AbortSignal;
  /** A custom-format dump already read completely as it was written (stream-read.ts): its verdict, in place of a second read. */
  readonly read?: VerifyProblem | null;
}

/** pg_dump's last lines in plain format; since 15.14/16.10/17.6 a `\unrestrict <key>` line follows. */
const PLAIN_END = /\n-- PostgreSQL database dump complete\n--\n\n(?:\\unrestrict [A-Za-z0-9]+\n\n)?$/;
const CUSTOM_MAGIC = 'PGDMP';

/** Through one reused buffer: a read stream allocates a new 64 KB Buffer per chunk, thousands of them for a dump of hundreds of MB, all left for the GC. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fh = await open(file, 'r');
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead)); // update() consumes the bytes before the buffer is read into again
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function verifyBackup(file: string, manifest?: BackupManifest, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const abs = path.resolve(file);
  const done = (r: Omit<VerifyResult, 'durationMs' | 'ok' | 'file'>): VerifyResult => ({
    ok: r.problems.length === 0,
    file: abs,
    ...r,
    durationMs: Math.round(performance.now() - started),
  });

  let sizeBytes: number;
  try {
    sizeBytes = (await stat(abs)).size;
  } catch (err) {
    return done({ format: manifest?.format ?? null, by: null, sizeBytes: null, sha256: null, problems: [{ kind: 'missing', message: `cannot read ${abs}: ${(err as Error).message}` }] });
  }
  const format = manifest?.format ?? (await detectFormat(abs));
  const problems: VerifyProblem[] = [];
  if (manifest && sizeBytes !== manifest.sizeBytes) {
    problems.push(
      sizeBytes < manifest.sizeBytes
        ? { kind: 'truncated', message: `${abs} is ${sizeBytes} bytes, the manifest says ${manifest.sizeBytes}: the file is truncated` }
        : { kind: 'size-mismatch', message: `${abs} is ${sizeBytes} bytes, the manifest says ${manifest.sizeBytes}` },
    );
  }
  // the checksum and the full read both stream the file; run them side by side
  const [sha256, readProblem] = await Promise.all([sha256File(abs, opts.signal), format === 'custom' ? (opts.read !== undefined ? opts.read : readCustom(abs, opts)) : readPlainEnd(abs, sizeBytes)]);
  if (manifest && sha256 !== manifest.sha256)
    problems.push({ kind: 'checksum-mismatch', message: `sha256 of ${abs} is ${sha256}, the manifest says ${manifest.sha256}` });
  if (readProblem) problems.push(readProblem);
  return done({ format, by: VERIFIED_BY[format], sizeBytes, sha256, problems });
}

async function detectFormat(file: string): Promise<DumpFormat> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(CUSTOM_MAGIC.length);
    await fh.read(head, 0, head.length, 0);
    return head.toString('latin1') === CUSTOM_MAGIC ? 'custom' : 'plain';
  } finally {
    await fh.close();
  }
}

async function readCustom(file: string, opts: VerifyOptions): Promise<VerifyProblem | null> {
  const runner = opts.runner ?? thisMachine();
  return readDumpProblem(file, await runner.exec(pg.readDump(file), { signal: opts.signal }));
}

/** What pg_restore's full read of `file` says: null when it read to the end. */
export function readDumpProblem(file: string, r: ExecResult): VerifyProblem | null {
  if (r.code === 0) return null;
  const tail = lastLines(r.stderr || r.stdout, 10) || r.error || `exit ${r.code}`;
  const truncated = /end of file|unexpected end/i.test(r.stderr);
  return {
    kind: truncated ? 'truncated' : 'unreadable',
    message: `\`pg_restore -f /dev/null\` cannot read ${file} to the end${truncated ? ' (the file is truncated)' : ''}: ${tail}`,
  };
}

async function readPlainEnd(file: string, size: number): Promise<VerifyProblem | null> {
  const fh = await open(file, 'r');
  try {
    const len = Math.min(size, 4096);
    const tail = Buffer.alloc(len);
    await fh.read(tail, 0, len, size - len);
    if (PLAIN_END.test(tail.toString('utf8'))) return null;
  } finally {
    await fh.close();
  }
  return { kind: 'truncated', message: `${file} does not end with pg_dump's "PostgreSQL database dump complete" comment: the dump is incomplete` };
}
