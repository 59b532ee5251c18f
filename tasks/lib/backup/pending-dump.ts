/**
 * pg_dump's command started before its snapshot exists (pg.dump reads the snapshot id on standard
 * input): beside the lock command, with the snapshot session, so that once the session exports
 * the snapshot under the lock, pg_dump starts after one line on an open channel instead of a
 * command's start and its password's exchange (two to three round trips on the backup's path).
 * Until `start`, nothing runs on the host but a shell waiting on `read`; `drop` ends its input
 * and it exits without having started pg_dump.
 */
import { PassThrough, Writable } from 'node:stream';
import { pg, type DumpFormat, type PgTarget } from '../commands/pg.ts';
import type { Command } from '../commands/shell.ts';
import type { ExecResult, Runner } from '../runners/types.ts';

export interface PendingDump {
  readonly command: Command;
  /**
   * Sends the snapshot id: pg_dump starts, its output goes into `sink` (ended when the command
   * ends, and the result comes only once `sink` has finished). `stop` kills it (a time limit).
   */
  start(snapshot: string, sink: Writable, stop: AbortSignal): Promise<ExecResult>;
  /** Not used after all: its input ends, the waiting shell exits, pg_dump never ran. */
  drop(): Promise<void>;
}

export function startPendingDump(runner: Runner, db: PgTarget, format: DumpFormat, password: string | undefined, signal: AbortSignal): PendingDump {
  const cmd = pg.dump(db, format, password);
  const input = new PassThrough();
  const out = new LaterSink();
  const kill = new AbortController();
  let exited = false;
  const ran = runner.exec(cmd, { stdinStream: input, sink: out, ahead: true, signal: AbortSignal.any([signal, kill.signal]) }).finally(() => (exited = true));
  ran.catch(() => undefined); // awaited by start or drop
  input.write(cmd.stdin ?? '');
  let used = false;
  return {
    command: cmd,
    start(snapshot, sink, stop) {
      if (used) throw new Error('this pg_dump was started already');
      used = true;
      const onStop = () => kill.abort(stop.reason);
      if (stop.aborted) onStop();
      else stop.addEventListener('abort', onStop, { once: true });
      out.deliverTo(sink);
      if (exited) input.destroy();
      else input.end(`${snapshot}\n`);
      return ran;
    },
    async drop() {
      if (used) return;
      used = true;
      if (exited) input.destroy();
      else input.end(); // `read` finds no line: the shell exits 1 without running pg_dump
      await ran.catch(() => undefined);
    },
  };
}

/**
 * A Writable whose bytes go to a sink given later; its end ends that sink and completes only once
 * the sink has finished (the runner reports a command after its sink's end, and the backup checks
 * the file only then). Without a sink by then it just ends.
 */
class LaterSink extends Writable {
  private target: Writable | null = null;
  private waiting: (() => void) | null = null;

  deliverTo(target: Writable): void {
    this.target = target;
    this.waiting?.();
    this.waiting = null;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const write = () => void this.target!.write(chunk, (err) => done(err ?? null));
    if (this.target) write();
    else this.waiting = write; // nothing comes before the snapshot is sent; kept in order if it did
  }

  override _final(done: (err?: Error | null) => void): void {
    if (!this.target) return done();
    if (this.target.writableFinished) return done();
    this.target.end(() => done());
  }
}
