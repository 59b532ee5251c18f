/**
 * A request log on one machine, read incrementally: the byte offset reached in each file is
 * kept (plain JSON, so it can be persisted and resumed elsewhere), every read starts where the
 * last one stopped, daily files (`predictions_YYYY-MM-DD.jsonl`) are followed across the
 * rotation, a file that shrank (truncated, replaced) is read again from its start. Only complete
 * lines are consumed; the unfinished last line waits for the next read.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { hostFilePath, hostPath, hostRealPath, type HostMount } from '../../runners/mount-namespace.ts';
import type { Runner } from '../../runners/types.ts';
import { lastLines } from '../../runners/run.ts';
import { CutoverError } from '../../base/errors.ts';
import { display } from '../../commands/shell.ts';
import { listLogFiles, readLogBytes, splitLogPath } from './commands.ts';
import { LineSplitter } from './lines.ts';

/** Where the reader got to: file name -> bytes consumed. */
export interface LogPosition {
  readonly offsets: Readonly<Record<string, number>>;
}

export interface LogFile {
  readonly name: string;
  readonly size: number;
}

/** Where the files are: this machine's file system, or a host through its runner. */
export interface LogPlace {
  /**
   * The files and their sizes. `ahead`: the file a read is expected in next and from where (the
   * newest one already read): a place that pays a round trip per command may bring its new bytes
   * along with the listing.
   */
  list(ahead?: { readonly name: string; readonly offset: number }): Promise<LogFile[]>;
  /** Streams `length` bytes from `offset` into the splitter. */
  read(name: string, offset: number, length: number, into: LineSplitter, signal?: AbortSignal): Promise<void>;
}

/** A complete line: buf[start, end) (no newline), at byte `offset` of `file`. */
export type LineCallback = (buf: Buffer, start: number, end: number, file: string, offset: number) => void;

export interface ReadReport {
  readonly bytes: number;
  readonly files: readonly string[];
  /** Files read again from the start because they got smaller than the offset reached. */
  readonly resets: readonly string[];
}

const DAY_MS = 86_400_000;
const CHUNK = 1 << 20;
const YIELD_EVERY = 16 << 20;

/** A stretch of one file to read: `length` bytes from `offset`; `newest`: the file may still grow. */
export interface LogRange {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly newest: boolean;
}

/** Reads a range, hands out its lines, and says how many bytes of complete lines it consumed. */
export type RangeReader = (r: LogRange) => Promise<number>;

export class LogReader {
  private offsets: Record<string, number>;

  constructor(
    readonly host: string,
    readonly logPath: string,
    readonly place: LogPlace,
    position?: LogPosition,
  ) {
    this.offsets = { ...(position?.offsets ?? {}) };
  }

  position(): LogPosition {
    return { offsets: { ...this.offsets } };
  }

  /**
   * Reads what is new. On the first read (no offsets yet) the files dated from the day before
   * `since` on are read from their start; `since` undefined: only the newest file.
   */
  read(onLine: LineCallback, opts: { since?: number; signal?: AbortSignal } = {}): Promise<ReadReport> {
    return this.readRanges(async (r) => {
      const splitter = new LineSplitter((buf, s, e, at) => onLine(buf, s, e, r.name, r.offset + at));
      await this.place.read(r.name, r.offset, r.length, splitter, opts.signal);
      if (!r.newest) splitter.flushPartial(); // a rotated file will not be finished by anyone
      return splitter.consumed;
    }, opts);
  }

  /** The same walk over what is new, with the reading of each range left to `readRange` (parallel readers). */
  async readRanges(readRange: RangeReader, opts: { since?: number } = {}): Promise<ReadReport> {
    const known = Object.keys(this.offsets).sort();
    const newestKnown = known.at(-1);
    const files = sortFiles(await this.place.list(newestKnown === undefined ? undefined : { name: newestKnown, offset: this.offsets[newestKnown]! }), this.logPath);
    const fresh = known.length === 0;
    const first = fresh ? firstFileToRead(files, this.logPath, opts.since) : 0;
    const oldestKnown = known[0];
    let bytes = 0;
    const read: string[] = [];
    const resets: string[] = [];
    const next: Record<string, number> = {};
    for (const [i, f] of files.entries()) {
      if (fresh && i < first) continue;
      if (!fresh && oldestKnown !== undefined && f.name < oldestKnown && !(f.name in this.offsets)) continue; // older than where we started
      let offset = this.offsets[f.name] ?? 0;
      if (f.size < offset) {
        resets.push(f.name);
        offset = 0;
      }
      const newest = i === files.length - 1;
      if (f.size > offset) {
        const consumed = await readRange({ name: f.name, offset, length: f.size - offset, newest });
        bytes += consumed;
        offset += consumed;
        read.push(f.name);
      }
      next[f.name] = offset;
    }
    // keep the newest two files' offsets: a late write to yesterday's file is still read
    this.offsets = Object.fromEntries(Object.entries(next).sort(([a], [b]) => (a < b ? -1 : 1)).slice(-2));
    return { bytes, files: read, resets };
  }
}

function dateOf(name: string, logPath: string): string | null {
  const { prefix, suffix, dated } = splitLogPath(logPath);
  if (!dated || !name.startsWith(prefix) || !name.endsWith(suffix)) return null;
  const d = name.slice(prefix.length, name.length - suffix.length);
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? d : null;
}

/** Oldest first (the date in the name orders them). */
function sortFiles(files: readonly LogFile[], logPath: string): LogFile[] {
  return files.filter((f) => !splitLogPath(logPath).dated || dateOf(f.name, logPath) !== null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function firstFileToRead(files: readonly LogFile[], logPath: string, since: number | undefined): number {
  if (files.length === 0) return 0;
  if (since === undefined) return files.length - 1;
  const from = new Date(since - DAY_MS).toISOString().slice(0, 10); // a day of slack: the writer's clock may be in another zone
  const i = files.findIndex((f) => (dateOf(f.name, logPath) ?? '9999') >= from);
  return i < 0 ? files.length : i;
}

/**
 * Files on this machine. With `mount`, the files of a local host that sees its own folder at the
 * shared path (../../runners/mount-namespace.ts): read here at the place they have on this
 * machine, without a process per read in the host's namespace.
 */
export class LocalLogPlace implements LogPlace {
  /** Where the last listing found each file (a link is followed again at every listing: `current` moves). */
  private readonly found = new Map<string, string>();

  constructor(
    private readonly logPath: string,
    private readonly mount?: HostMount,
  ) {}

  /** The file's path on this machine. */
  pathOf(name: string): string {
    return this.found.get(name) ?? path.join(splitLogPath(this.logPath).dir, name);
  }

  async list(): Promise<LogFile[]> {
    const { dir: logDir, prefix, suffix, dated } = splitLogPath(this.logPath);
    // the folder resolved once per listing, in the host's view; a file walks again only if it is a link itself
    const hostDir = this.mount ? await hostRealPath(this.mount, logDir) : logDir;
    const dir = this.mount ? hostPath(this.mount, hostDir) : logDir;
    let names: string[];
    try {
      names = dated ? (await readdir(dir)).filter((n) => n.startsWith(prefix) && n.endsWith(suffix)) : [prefix];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    this.found.clear();
    const out: LogFile[] = [];
    for (const name of names) {
      let at = path.join(dir, name);
      if (this.mount && (await lstat(at).catch(() => null))?.isSymbolicLink()) at = await hostFilePath(this.mount, path.join(hostDir, name));
      const s = await stat(at).catch(() => null);
      if (!s?.isFile()) continue;
      this.found.set(name, at);
      out.push({ name, size: s.size });
    }
    return out;
  }

  /**
   * Synchronous reads into one reused buffer (the splitter copies only an unfinished line), handing
   * the event loop back every few megabytes: no stream machinery, no waiting between chunks.
   */
  async read(name: string, offset: number, length: number, into: LineSplitter, signal?: AbortSignal): Promise<void> {
    const fd = openSync(this.pathOf(name), 'r');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let done = 0;
      let sinceYield = 0;
      while (done < length) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, length - done), offset + done);
        if (n === 0) break; // the file got shorter while being read
        into.push(buf.subarray(0, n));
        done += n;
        if ((sinceYield += n) >= YIELD_EVERY) {
          sinceYield = 0;
          await new Promise((r) => setImmediate(r));
          signal?.throwIfAborted();
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** What a listing brought along: bytes of `name` from `offset`. */
interface Ahead {
  readonly name: string;
  readonly offset: number;
  readonly bytes: Buffer;
}

/** A listing's output: text lines, then (after a NUL byte) the bytes read ahead, at most `max`. */
class ListingSink extends Writable {
  private readonly text: Buffer[] = [];
  private readonly data: Buffer[] = [];
  private inData = false;
  private dataBytes = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    let c = chunk;
    if (!this.inData) {
      const nul = c.indexOf(0);
      if (nul < 0) return void (this.text.push(c), done());
      this.text.push(c.subarray(0, nul));
      this.inData = true;
      c = c.subarray(nul + 1);
    }
    const keep = c.subarray(0, Math.max(0, this.max - this.dataBytes));
    this.data.push(keep);
    this.dataBytes += keep.length;
    done();
  }

  get listing(): string {
    return Buffer.concat(this.text).toString('utf8');
  }

  /** null: nothing was read ahead. */
  get ahead(): Buffer | null {
    return this.inData && this.dataBytes > 0 ? Buffer.concat(this.data) : null;
  }
}

/** At most this much of a file comes with a listing; the rest of a larger read is streamed as before. */
export const READ_AHEAD_MAX = 4 << 20;

/**
 * Files on a host, through its runner (SSH, or bash on this machine). A listing asked with `ahead`
 * brings the new bytes of that file in the same command: a reader following a growing log then
 * costs one round trip per read, not two.
 */
export class RunnerLogPlace implements LogPlace {
  private ahead: Ahead | null = null;

  constructor(
    private readonly runner: Runner,
    private readonly logPath: string,
    private readonly readAheadMax = READ_AHEAD_MAX,
  ) {}

  async list(ahead?: { readonly name: string; readonly offset: number }): Promise<LogFile[]> {
    const cmd = listLogFiles(this.logPath, ahead ? { ...ahead, max: this.readAheadMax } : undefined);
    const sink = new ListingSink(this.readAheadMax);
    this.ahead = null;
    const r = await this.runner.exec(cmd, { timeoutMs: 30_000, sink });
    if (r.code !== 0) throw new CutoverError(`${this.runner.host.name}: cannot list ${this.logPath}: \`${display(cmd)}\` ${r.error ?? `exited ${r.code}`}: ${lastLines(r.stderr, 5)}`);
    const bytes = sink.ahead;
    if (ahead && bytes) this.ahead = { ...ahead, bytes };
    return sink.listing
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const sp = l.indexOf(' ');
        return { name: l.slice(sp + 1), size: Number(l.slice(0, sp)) };
      })
      .filter((f) => Number.isFinite(f.size));
  }

  async read(name: string, offset: number, length: number, into: LineSplitter, signal?: AbortSignal): Promise<void> {
    const a = this.ahead;
    if (a && a.name === name && a.offset === offset) {
      this.ahead = null;
      // the listing brought them: what it has of the range, then the rest (if any) as usual
      const have = Math.min(a.bytes.length, length);
      into.push(a.bytes.subarray(0, have));
      if (have === length) return;
      offset += have;
      length -= have;
    }
    const { dir } = splitLogPath(this.logPath);
    const cmd = readLogBytes(`${dir}/${name}`, offset, length);
    const r = await this.runner.exec(cmd, { sink: into, ...(signal ? { signal } : {}) });
    if (r.code !== 0) throw new CutoverError(`${this.runner.host.name}: cannot read ${dir}/${name}: ${r.error ?? `exit ${r.code}`}: ${lastLines(r.stderr, 5)}`);
  }
}
