// sha256File re-hashes a dump through one reused buffer: the digest must equal sha256sum's for files
// smaller than, equal to and larger than the buffer (the last read is partial), and an abort stops it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256File } from '../../tasks/lib/backup/integrity.ts';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha256sum = (file: string) => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];

describe('sha256File', () => {
  it.each([0, 5, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) - 7])('digests a %i-byte file like sha256sum', async (size) => {
    dir = await mkdtemp(join(tmpdir(), 'backup-sha256-'));
    const file = join(dir, 'dump');
    await writeFile(file, randomBytes(size));
    expect(await sha256File(file)).toBe(sha256sum(file));
  });

  it('stops when its signal is aborted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backup-sha256-'));
    const file = join(dir, 'dump');
    await writeFile(file, randomBytes(1000));
    await expect(sha256File(file, AbortSignal.abort(new Error('cancelled by the operator')))).rejects.toThrow('cancelled by the operator');
  });
});
