// HashingFileSink on real files: it hashes what it writes, and a full disk (/dev/full) never becomes an 'error' event.
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HashingFileSink } from '../../tasks/lib/backup/file-sink.ts';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('HashingFileSink', () => {
  it('writes every byte, counts them, and digests them like sha256sum', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-sink-'));
    const file = join(dir, 'x.partial');
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100_003, i));
    const progress: number[] = [];
    const sink = new HashingFileSink(await open(file, 'wx', 0o600), { onProgress: (n) => progress.push(n) });
    await pipeline(Readable.from(chunks), sink);
    const all = Buffer.concat(chunks);
    expect([sink.bytes, sink.failure]).toEqual([all.length, null]);
    expect(sink.digest()).toBe(createHash('sha256').update(all).digest('hex'));
    expect((await readFile(file)).equals(all)).toBe(true);
    expect(progress.at(-1)).toBe(all.length);
    expect(progress.length).toBe(40);
  });

  it('a write that fails (ENOSPC) is kept in `failure`, reported once, and the stream still finishes', async () => {
    const failures: string[] = [];
    const sink = new HashingFileSink(await open('/dev/full', 'w'), { onFailure: (e) => failures.push((e as NodeJS.ErrnoException).code ?? e.message) });
    const errors: unknown[] = [];
    sink.on('error', (e) => errors.push(e));
    await pipeline(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), sink);
    expect(failures).toEqual(['ENOSPC']);
    expect(errors).toEqual([]);
    expect(sink.failure?.message).toContain('ENOSPC');
    expect(sink.bytes).toBe(0);
  });

  it('output written after a runner ended it (an aborted SSH command) sets lateOutput instead of crashing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-sink-'));
    const sink = new HashingFileSink(await open(join(dir, 'late.partial'), 'wx', 0o600));
    sink.write(Buffer.from('early'));
    await new Promise<void>((r) => sink.end(() => r()));
    sink.write(Buffer.from('late'));
    await new Promise((r) => setTimeout(r, 20));
    expect([sink.lateOutput, sink.failure, sink.bytes]).toEqual([true, null, 5]);
    expect(await readFile(join(dir, 'late.partial'), 'utf8')).toBe('early');
  });
});
