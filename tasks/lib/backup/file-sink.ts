/**
 * A Writable that streams into a file while computing its sha256 and size: a dump is never held
 * in memory. Its errors never escape (an unhandled 'error' would crash the process, and runners
 * wait for 'finish'): a write failure (disk full) is kept in `failure`, reported through
 * `onFailure` so the command can be stopped, and later chunks are dropped. Output that arrives
 * after a runner ended the sink (it stopped waiting for an aborted command) sets `lateOutput`.
 * 'finish' comes after the file is synced and closed. A `copy` hook gets every chunk beside the
 * file (the same bytes that are hashed).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

type WriteCallback = (error: Error | null | undefined) => void;

export class HashingFileSink extends Writable {
  private readonly hash = createHash('sha256');
  bytes = 0;
  failure: Error | null = null;
  /** Chunks were written after end(): whatever the runner reported, the file lacks them. */
  lateOutput = false;
  private fileClosed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly hooks: {
      onFailure?: (err: Error) => void;
      onProgress?: (bytes: number) => void;
      /** Each chunk also goes here (the dump's full read as it arrives); the next chunk waits for it. */
      copy?: (chunk: Buffer) => Promise<void>;
    } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    this.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_STREAM_WRITE_AFTER_END' || err.code === 'ERR_STREAM_DESTROYED') this.lateOutput = true;
      else this.fail(err);
    });
  }

  /** After end() (a runner that stopped waiting) a chunk is counted as late and dropped, never an 'error'. */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (this.writableEnded || this.destroyed) {
      this.lateOutput = true;
      const done = typeof encoding === 'function' ? encoding : cb;
      if (done) process.nextTick(done, new Error('output arrived after the dump file was closed'));
      return false;
    }
    return typeof encoding === 'function' ? super.write(chunk, encoding) : super.write(chunk, encoding as BufferEncoding, cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.failure) return done();
    Promise.all([this.writeAll(chunk), this.hooks.copy?.(chunk)]).then(
      () => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.hooks.onProgress?.(this.bytes);
        done();
      },
      (err: Error) => {
        this.fail(err);
        done();
      },
    );
  }

  override _final(done: (err?: Error | null) => void): void {
    const close = async () => {
      try {
        if (!this.failure) await this.fh.sync(); // a backup that is only in the page cache is not a backup yet
      } catch (err) {
        this.fail(err as Error);
      }
      await this.closeFile();
    };
    close().then(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.closeFile().then(() => done(err));
  }

  /** The hex sha256 of everything written; call once, after 'finish'. */
  digest(): string {
    return this.hash.digest('hex');
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) off += (await this.fh.write(chunk, off, chunk.length - off)).bytesWritten;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.hooks.onFailure?.(err);
  }

  private async closeFile(): Promise<void> {
    if (this.fileClosed) return;
    this.fileClosed = true;
    await this.fh.close().catch((err: Error) => this.fail(err));
  }
}
