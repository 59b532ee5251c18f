/**
 * Row counts, all of them: psql's `schema.table<TAB>count` lines are parsed as they stream in
 * (a runner keeps only the last 64 KiB of stdout; 4,000 tables are more than that), compared
 * with a manifest's, and read back after a failed restore to say which state the data is in.
 */
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import { COUNTED_LINE, parseRowCountLine, parseSnapshotLine, pg, type PgTarget } from '../commands/pg.ts';
import { display } from '../commands/shell.ts';
import type { ExecOptions, ExecResult, Runner } from '../runners/types.ts';

export type RowCounts = Readonly<Record<string, number>>;

/**
 * A Writable for a runner's `sink`: every complete line is parsed as it arrives. With
 * `header: true` the first line must be the snapshot line (SNAPSHOT_SQL.open): `header` resolves
 * with it as soon as it is read; then `counted` resolves at COUNTED_LINE, the end of the counts. A
 * malformed line is kept in `problem` (never thrown: the stream must keep draining so the command
 * can end), and later lines are ignored.
 */
export class RowCountSink extends Writable {
  readonly counts: Record<string, number> = {};
  lines = 0;
  problem: string | null = null;
  /** Resolves with the snapshot line; rejects when the output ends (or is malformed) before it. */
  readonly header: Promise<{ snapshot: string; serverVersion: string }>;
  /** With `header`: resolves at COUNTED_LINE (every count is in `counts`); never when the output ends first. */
  readonly counted: Promise<void>;
  private settleCounted!: () => void;
  /** COUNTED_LINE was read. */
  isCounted = false;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private wantHeader: boolean;
  /** The snapshot session's output: a header line, the counts, COUNTED_LINE. */
  private readonly session: boolean;
  private settleHeader!: { resolve: (h: { snapshot: string; serverVersion: string }) => void; reject: (e: Error) => void };

  constructor(opts: { header?: boolean } = {}) {
    super();
    this.wantHeader = opts.header === true;
    this.session = this.wantHeader;
    this.header = new Promise((resolve, reject) => (this.settleHeader = { resolve, reject }));
    this.header.catch(() => undefined); // a caller that never asks for it is not an unhandled rejection
    this.counted = new Promise((resolve) => (this.settleCounted = resolve));
    if (!this.wantHeader) this.settleHeader.reject(new Error('no header expected'));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.take(this.decoder.write(chunk));
    done();
  }

  override _final(done: () => void): void {
    this.take(this.decoder.end());
    if (this.partial) this.line(this.partial);
    this.partial = '';
    if (this.wantHeader) this.settleHeader.reject(new Error('the session ended before it exported a snapshot'));
    done();
  }

  private take(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const l of parts) this.line(l);
  }

  private line(text: string): void {
    if (this.problem || text === '') return;
    if (this.wantHeader) {
      this.wantHeader = false;
      const h = parseSnapshotLine(text);
      if (h) return this.settleHeader.resolve(h);
      this.problem = `expected the snapshot line first, got ${JSON.stringify(text.slice(0, 200))}`;
      return this.settleHeader.reject(new Error(this.problem));
    }
    if (this.isCounted) {
      this.problem = `unexpected output after the counts: ${JSON.stringify(text.slice(0, 200))}`;
      return;
    }
    if (this.session && text === COUNTED_LINE) {
      this.isCounted = true;
      return this.settleCounted();
    }
    try {
      const [name, n] = parseRowCountLine(text);
      this.counts[name] = n;
      this.lines++;
    } catch (err) {
      this.problem = (err as Error).message;
    }
  }
}

/** A counting command that failed: its result and the command as it may be shown. */
export class CountError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly result: ExecResult | null,
  ) {
    super(message);
  }
}

/**
 * Exact row counts now, in one read-only transaction, every line parsed as it streams. Throws
 * CountError naming the command (secrets masked) when psql fails or prints something else.
 */
export async function countRows(
  runner: Runner,
  db: PgTarget,
  password: string | undefined,
  opts: Pick<ExecOptions, 'signal' | 'timeoutMs'> = {},
): Promise<Record<string, number>> {
  const cmd = pg.rowCounts(db, password);
  const sink = new RowCountSink();
  const r = await runner.exec(cmd, { ...opts, sink });
  const shown = display(cmd);
  const tail = r.stderr.trim().split('\n').slice(-3).join(' ');
  if (r.code !== 0) throw new CountError(`psql could not count the rows of each table on ${runner.host.name}: it ${how(r)}: ${tail}`, shown, r);
  if (sink.problem) throw new CountError(`cannot read the row counts: ${sink.problem}`, shown, r);
  return sink.counts;
}

export function how(r: ExecResult): string {
  if (r.code !== null) return `exited ${r.code}`;
  return `was stopped (${r.error ?? (r.signal ? `killed by ${r.signal}` : 'no exit code')})`;
}

/** Tables whose count differs, or that exist on one side only: `public.messages: 12 in the backup, 11 now`. */
export function compareRowCounts(expected: RowCounts, actual: RowCounts): string[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names.filter((t) => expected[t] !== actual[t]).map((t) => `${t}: ${expected[t] ?? 'absent'} in the backup, ${actual[t] ?? 'absent'} now`);
}

/** Which data a database holds after a restore that failed or was cut short: as before it, as the backup, or unknown. */
export type DataState = 'as-before' | 'as-backup' | 'unknown';

/**
 * Which state the row counts counted now match. The safety backup's counts are the database
 * just before the restore; the backup's are its target. When both are equal, the data is in
 * that one state either way ('as-before'). null (could not count) is 'unknown'.
 */
export function dataState(now: RowCounts | null, before: RowCounts, backup: RowCounts): DataState {
  if (now === null) return 'unknown';
  if (compareRowCounts(before, now).length === 0) return 'as-before';
  if (compareRowCounts(backup, now).length === 0) return 'as-backup';
  return 'unknown';
}
