/**
 * Bytes -> lines, in flat memory: a Writable that hands each complete line to a callback as a
 * slice of the chunk it arrived in (no copy), carries an unfinished line into the next chunk,
 * and counts the bytes of complete lines (the offset a reader may resume from).
 */
import { Writable } from 'node:stream';

export type LineHandler = (buf: Buffer, start: number, end: number, offset: number) => void;

export class LineSplitter extends Writable {
  private carry: Buffer | null = null;
  /** Bytes of complete lines handed out so far (newlines included). */
  consumed = 0;

  constructor(private readonly onLine: LineHandler) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      this.push(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  /** Synchronous form (local files read in chunks, tests). */
  push(chunk: Buffer): void {
    let buf = chunk;
    let base = this.consumed;
    if (this.carry) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      // only the carried line is joined; the rest of the chunk is used where it lies
      const line = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.onLine(line, 0, line.length, base);
      this.consumed += line.length + 1;
      base = this.consumed;
      buf = chunk.subarray(nl + 1);
      this.carry = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      this.onLine(buf, start, nl, base + start);
      start = nl + 1;
    }
    this.consumed = base + start;
    if (start < buf.length) this.carry = Buffer.from(buf.subarray(start)); // copied: the chunk may be reused
  }

  /** The unfinished last line, handed out as a line (a file that will not grow any more). */
  flushPartial(): void {
    if (!this.carry) return;
    const line = this.carry;
    this.carry = null;
    this.onLine(line, 0, line.length, this.consumed);
    this.consumed += line.length;
  }
}
