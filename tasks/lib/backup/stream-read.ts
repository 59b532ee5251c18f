/**
 * A custom-format dump read completely while it arrives: `pg_restore -f /dev/null` on this machine
 * reads the very bytes that are hashed into the manifest and written to the file, beside the
 * dump instead of after it (for a large dump, most of the wait after pg_dump ends). The file on
 * disk is re-hashed afterwards (verifyBackup with `read`): equal hashes mean pg_restore read the
 * file's bytes. pg_restore sets the pace (backpressure up to the SSH channel), so nothing is
 * buffered in memory; if it stops early (an unreadable dump), the dump still goes to disk whole
 * and the verification says why.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { pg } from '../commands/pg.ts';
import { thisMachine } from '../runners/local.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { readDumpProblem, type VerifyProblem } from './integrity.ts';

export interface StreamRead {
  /** Hands pg_restore a chunk; resolves once it took it, or at once when it has already exited. */
  feed(chunk: Buffer): Promise<void>;
  /** The dump ended: pg_restore's verdict on everything it was fed (null: read to the end). */
  end(file: string): Promise<VerifyProblem | null>;
  /** The dump failed: pg_restore is stopped. */
  cancel(): Promise<void>;
}

export function startStreamRead(signal: AbortSignal, runner: Runner = thisMachine()): StreamRead {
  const input = new PassThrough({ highWaterMark: 1 << 20 });
  input.on('error', () => {}); // a write after cancel(): nothing more goes to pg_restore, nothing to report
  const stop = new AbortController();
  let exited = false;
  const run: Promise<ExecResult | Error> = runner
    .exec(pg.readDumpStream(), { stdinStream: input, signal: AbortSignal.any([signal, stop.signal]) })
    .catch((e: unknown) => e as Error)
    .finally(() => (exited = true));
  return {
    async feed(chunk) {
      if (exited || input.destroyed) return; // it stopped reading: its exit code says why, at end()
      if (!input.write(chunk)) await Promise.race([once(input, 'drain'), run]);
    },
    async end(file) {
      input.end();
      const r = await run;
      return r instanceof Error ? { kind: 'unreadable', message: `\`pg_restore -f /dev/null\` could not read ${file}: ${r.message}` } : readDumpProblem(file, r);
    },
    async cancel() {
      stop.abort();
      input.destroy();
      await run;
    },
  };
}
