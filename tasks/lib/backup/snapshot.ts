/**
 * The dump's snapshot, and the row counts inside it. One psql session (pg.snapshotSession) opens a
 * read-only REPEATABLE READ transaction and exports its snapshot; pg_dump then runs with
 * `--snapshot=<id>`, so the dump and the counts see exactly the same rows however busy the
 * database is. The session reads its SQL from a pipe this side keeps open (an SSH channel's
 * standard input, or a local child's), so the transaction lives until the dump has ended; the
 * counts are parsed as they stream in (RowCountSink), whatever their number.
 */
import { PassThrough } from 'node:stream';
import { pg, SNAPSHOT_SQL, type PgTarget } from '../commands/pg.ts';
import { display } from '../commands/shell.ts';
import type { ExecResult, Runner } from '../runners/types.ts';
import { CountError, how, RowCountSink } from './counts.ts';

export interface SnapshotSession {
  /** The exported snapshot's id, for `pg_dump --snapshot`. */
  readonly snapshot: string;
  /** The server's version as it reports it, e.g. `15.18 (Debian 15.18-0+deb12u1)`. */
  readonly serverVersion: string;
  /** After pg_dump ended well: ends the transaction and returns every table's count. Throws CountError. */
  finish(): Promise<Record<string, number>>;
  /** After pg_dump failed: ends the session without waiting for its counts (the transaction rolls back). */
  abandon(): Promise<void>;
}

/** A session connecting (its password sent, no SQL yet): it exports no snapshot until `begin`. */
export interface PendingSnapshotSession {
  /** Sends the SQL: the snapshot is exported now (under the run's lock), the counting starts beside the dump. Throws CountError. */
  begin(signal: AbortSignal, settle?: (run: Promise<ExecResult>) => Promise<ExecResult>): Promise<SnapshotSession>;
  /** Not used after all (the run stopped before its backup): psql ends without having read anything. */
  drop(): Promise<void>;
}

/**
 * Starts the session's command and sends only its password line: psql starts and connects while
 * the caller does something else (the kernel takes the lock meanwhile), and `begin` then costs one
 * exchange instead of a command's start. `signal` stops it (Ctrl-C, a lost lock).
 */
export function connectSnapshotSession(runner: Runner, db: PgTarget, password: string | undefined, signal: AbortSignal): PendingSnapshotSession {
  const cmd = pg.snapshotSession(db, password);
  const shown = display(cmd);
  const input = new PassThrough();
  const sink = new RowCountSink({ header: true });
  const kill = new AbortController();
  let exited = false;
  const ran = runner.exec(cmd, { stdinStream: input, sink, ahead: true, signal: AbortSignal.any([signal, kill.signal]) }).finally(() => (exited = true));
  ran.catch(() => undefined); // awaited by begin or drop
  input.write(cmd.stdin ?? '');
  // the pipe is ended only by finish/abandon/drop, never while psql may still read: writes after it exited go nowhere
  const end = (text = '') => (exited ? input.destroy() : input.end(text));
  let used = false;

  // the host and stderr's tail are said by whoever reports it (BackupFailedError)
  const failed = (r: ExecResult | null, err: unknown, what: string) => new CountError(`psql ${what}: ${r ? `it ${how(r)}` : (err as Error).message}`, shown, r);

  return {
    async begin(stop, settle = (r) => r) {
      used = true;
      const onStop = () => kill.abort(stop.reason);
      if (stop.aborted) onStop();
      else stop.addEventListener('abort', onStop, { once: true });
      const done = settle(ran);
      done.catch(() => undefined); // awaited below, on every path
      input.write(SNAPSHOT_SQL.open + SNAPSHOT_SQL.counts);
      const first = await Promise.race([sink.header.then((h) => ({ h }), () => ({ h: null })), done.then(() => ({ h: null }), () => ({ h: null }))]);
      if (!first.h) {
        end();
        const r = await done.catch((e: unknown) => e);
        if (!(r && typeof r === 'object' && 'code' in r)) throw failed(null, r, 'could not open the dump\'s snapshot');
        throw failed(r as ExecResult, null, sink.problem ? `answered something else than a snapshot (${sink.problem})` : 'could not open the dump\'s snapshot');
      }
      const { snapshot, serverVersion } = first.h;
      return {
        snapshot,
        serverVersion,
        async finish() {
          end(SNAPSHOT_SQL.close);
          // every count read (psql stops at an error before the marker): the read-only commit and the
          // session's end are not waited for, a round trip the run does not spend
          const first = await Promise.race([sink.counted.then(() => null), done.then((r) => ({ r }), (e: unknown) => ({ e }))]);
          if (first === null && !sink.problem) return sink.counts;
          let r: ExecResult;
          try {
            r = first && 'r' in first ? first.r : await done;
          } catch (err) {
            throw failed(null, err, 'could not count the rows in the dump\'s snapshot');
          }
          if (r.code !== 0) throw failed(r, null, 'could not count the rows in the dump\'s snapshot');
          if (sink.problem) throw new CountError(`cannot read the row counts: ${sink.problem}`, shown, r);
          if (!sink.isCounted) throw new CountError('the session ended before its counts were complete', shown, r);
          return sink.counts;
        },
        async abandon() {
          end();
          await done.catch(() => undefined);
        },
      };
    },
    async drop() {
      if (used) return;
      used = true;
      end();
      await ran.catch(() => undefined);
    },
  };
}
