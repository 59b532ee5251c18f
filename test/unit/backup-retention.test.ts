// Retention on a real folder: manifests written by writeManifest, dumps as small files.
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readManifest, writeManifest, type BackupManifest } from '../../tasks/lib/backup/manifest.ts';
import { listBackups, pruneBackups } from '../../tasks/lib/backup/retention.ts';
import { CutoverError } from '../../tasks/lib/base/errors.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backup-retention-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SHA = 'a'.repeat(64);
function manifest(name: string, createdAt: string, verified: boolean | null): BackupManifest {
  return {
    manifestVersion: 1,
    file: `${name}.dump`,
    envName: 'staging',
    database: 'harena',
    host: 'app1',
    dbAddress: '127.0.0.1:5432',
    dbUser: 'harena',
    serverVersion: '15.18',
    format: 'custom',
    sizeBytes: 4,
    sha256: SHA,
    durationMs: 10,
    fromTag: 'v1',
    toTag: 'v2',
    runId: `run-${name}`,
    createdAt,
    rowCounts: { 'public.a': 1 },
    verified: verified === null ? null : { at: createdAt, by: 'pg_restore -f /dev/null', ok: verified },
  };
}

/** Backups named b1..bN, b1 the oldest (one minute apart). */
async function make(specs: (boolean | null)[]): Promise<void> {
  for (const [i, verified] of specs.entries()) {
    const name = `b${i + 1}`;
    await writeFile(join(dir, `${name}.dump`), 'PGDM');
    await writeManifest(join(dir, `${name}.json`), manifest(name, new Date(Date.UTC(2025, 0, 1, 12, i)).toISOString(), verified));
  }
}
const files = async () => (await readdir(dir)).sort();
const names = (entries: readonly { manifest: BackupManifest }[]) => entries.map((e) => e.manifest.file);

describe('listBackups', () => {
  it('newest first by createdAt; a missing folder has none; foreign or broken .json files are ignored', async () => {
    await make([true, false, null]);
    await writeFile(join(dir, 'package.json'), '{"name": "x"}');
    await writeFile(join(dir, 'broken.json'), '{');
    await writeFile(join(dir, 'evil.json'), JSON.stringify({ ...manifest('x', '2026-01-01T00:00:00.000Z', true), file: '../../etc/passwd' }));
    expect(names(await listBackups(dir))).toEqual(['b3.dump', 'b2.dump', 'b1.dump']);
    expect((await listBackups(dir))[0]).toEqual({ dumpPath: join(dir, 'b3.dump'), manifestPath: join(dir, 'b3.json'), manifest: manifest('b3', '2025-01-01T12:02:00.000Z', null) });
    expect(await listBackups(join(dir, 'nope'))).toEqual([]);
    const evil = await readManifest(join(dir, 'evil.json'));
    expect(evil).toEqual({ ok: false, problem: `${join(dir, 'evil.json')} is not a backup manifest: file: must be a .dump or .sql file name in the same folder` });
  });

  it('manifests are written 0600 and read back equal', async () => {
    await make([true]);
    expect((await stat(join(dir, 'b1.json'))).mode & 0o777).toBe(0o600);
    expect(await readManifest(join(dir, 'b1.json'))).toEqual({ ok: true, manifest: manifest('b1', '2025-01-01T12:00:00.000Z', true) });
  });
});

describe('pruneBackups', () => {
  it('keeps the newest N and deletes the other dump + manifest pairs', async () => {
    await make([true, true, true, true]);
    const r = await pruneBackups(dir, 2);
    expect(names(r.removed)).toEqual(['b2.dump', 'b1.dump']);
    expect(names(r.kept)).toEqual(['b4.dump', 'b3.dump']);
    expect(r.partials).toEqual([]);
    expect(await files()).toEqual(['b3.dump', 'b3.json', 'b4.dump', 'b4.json']);
    // nothing more to do
    expect(names((await pruneBackups(dir, 2)).removed)).toEqual([]);
  });

  it('never deletes the newest verified dump, even beyond N', async () => {
    await make([true, true, false, null, false]);
    const r = await pruneBackups(dir, 1);
    expect(names(r.kept)).toEqual(['b5.dump', 'b2.dump']);
    expect(names(r.removed)).toEqual(['b4.dump', 'b3.dump', 'b1.dump']);
    expect(await files()).toEqual(['b2.dump', 'b2.json', 'b5.dump', 'b5.json']);
  });

  it('with no verified dump at all it keeps exactly N', async () => {
    await make([false, null, false]);
    expect(names((await pruneBackups(dir, 1)).kept)).toEqual(['b3.dump']);
    expect(await files()).toEqual(['b3.dump', 'b3.json']);
  });

  it('removes .partial leftovers older than an hour, and nothing it does not know', async () => {
    await make([true]);
    const now = new Date('2025-06-01T12:00:00Z');
    const old = join(dir, 'x_to_y.dump.partial');
    const recent = join(dir, 'z_to_w.dump.partial');
    await writeFile(old, 'half');
    await writeFile(recent, 'half');
    await writeFile(join(dir, 'hand-made.dump'), 'mine');
    await utimes(old, new Date('2025-06-01T10:59:00Z'), new Date('2025-06-01T10:59:00Z'));
    await utimes(recent, new Date('2025-06-01T11:01:00Z'), new Date('2025-06-01T11:01:00Z'));
    const r = await pruneBackups(dir, 1, { now });
    expect(r.partials).toEqual([old]);
    expect(await files()).toEqual(['b1.dump', 'b1.json', 'hand-made.dump', 'z_to_w.dump.partial']);
  });

  it('a manifest whose dump is already gone is removed too (nothing protects it)', async () => {
    await make([true, true]);
    await rm(join(dir, 'b1.dump'));
    expect(names((await pruneBackups(dir, 1)).orphans)).toEqual(['b1.dump']);
    expect(await files()).toEqual(['b2.dump', 'b2.json']);
  });

  it('refuses keep < 1', async () => {
    await expect(pruneBackups(dir, 0)).rejects.toThrow(new CutoverError('backups.keep must be a whole number of at least 1, not 0'));
  });
});
