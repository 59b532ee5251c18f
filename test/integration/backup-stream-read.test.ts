// The dump's full read as it arrives (backup/stream-read.ts): the real pg_restore on this machine fed
// a real custom-format dump of the test run's PostgreSQL in chunks, whole, cut short, or garbage;
// and takeBackup when the stream loses its tail on the way.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres } from '../../sandbox/postgres.ts';
import { takeBackup } from '../../tasks/lib/backup/dump.ts';
import { BackupFailedError } from '../../tasks/lib/backup/errors.ts';
import { readManifest } from '../../tasks/lib/backup/manifest.ts';
import { startStreamRead } from '../../tasks/lib/backup/stream-read.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';

const sh = promisify(execFile);
const server = inject('pg');
const cluster = connectPostgres(server);
const DB = `stream_read_${process.pid}`;
const local = new LocalRunner({ name: 'local', address: '127.0.0.1', port: 0, user: 'root' });
let work = '';
let dump: Buffer;

async function feedAll(bytes: Buffer, read: ReturnType<typeof startStreamRead>, size = 64 * 1024): Promise<void> {
  for (let at = 0; at < bytes.length; at += size) await read.feed(bytes.subarray(at, at + size));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cutover-stream-read-'));
  await cluster.createDatabase(DB);
  const conn = ['-h', server.host, '-p', String(server.port), '-U', server.user, '-d', DB];
  // random text compresses badly: a dump of a few MB, more than the pipes and buffers between us and pg_restore hold
  await sh('psql', [...conn, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `create table notes (id int primary key, body text); insert into notes select g, md5(g::text) || md5((g * 7)::text) from generate_series(1, 60000) g;`]);
  const file = join(work, 'good.dump');
  await sh('pg_dump', ['-Fc', ...conn, '-f', file]);
  dump = await readFile(file);
  expect(dump.length).toBeGreaterThan(2 * 1024 * 1024);
});

afterAll(async () => {
  await cluster.psql('postgres', `drop database if exists "${DB}" with (force)`);
  await rm(work, { recursive: true, force: true });
});

describe('startStreamRead', () => {
  it('a whole dump fed in 64 KiB chunks: read to the end', async () => {
    const read = startStreamRead(new AbortController().signal, local);
    await feedAll(dump, read);
    expect(await read.end('/b/x.dump')).toBeNull();
  });

  it('a dump cut short: truncated, in pg_restore\'s words, with the file it names', async () => {
    const read = startStreamRead(new AbortController().signal, local);
    await feedAll(dump.subarray(0, Math.floor(dump.length / 2)), read);
    expect(await read.end('/b/half.dump')).toEqual({
      kind: 'truncated',
      message: '`pg_restore -f /dev/null` cannot read /b/half.dump to the end (the file is truncated): pg_restore: error: could not read from input file: end of file',
    });
  });

  it('garbage: pg_restore stops at once, and the 8 MiB fed after it never wait for it', async () => {
    const read = startStreamRead(new AbortController().signal, local);
    await read.feed(Buffer.from('PGDMP this is not a dump\n'));
    await feedAll(Buffer.alloc(8 * 1024 * 1024, 'x'), read); // would hang on a full pipe if feed waited for a reader that left
    const problem = await read.end('/b/bad.dump');
    expect(problem?.kind).toBe('unreadable');
    expect(problem?.message).toMatch(/^`pg_restore -f \/dev\/null` cannot read \/b\/bad\.dump to the end: pg_restore: error: /);
  });

  it('cancel() stops a pg_restore still waiting for the rest of the dump', async () => {
    const read = startStreamRead(new AbortController().signal, local);
    await feedAll(dump.subarray(0, 256 * 1024), read);
    await read.cancel(); // resolves only once pg_restore has exited: without the stop it would wait on its input forever
    await read.feed(Buffer.from('late')); // after cancel: dropped, no error
  });
});

describe('takeBackup, custom format', () => {
  it('a dump that loses its last 4 KiB on the way: kept, its manifest says failed, pg_restore said why', async () => {
    // the transport drops the stream's tail (pg_dump itself exits 0): only the full read can tell
    const lossy: Runner = Object.assign(Object.create(local) as Runner, {
      exec: (cmd: Parameters<Runner['exec']>[0], o?: Parameters<Runner['exec']>[1]) =>
        local.exec(cmd.script.includes('pg_dump') ? { ...cmd, script: `${cmd.script} | head -c -4096` } : cmd, o),
    });
    const dir = await mkdtemp(join(work, 'backups-'));
    const err = await takeBackup({
      runner: lossy, db: { name: DB, host: server.host, port: server.port, user: server.user }, format: 'custom', dir,
      envName: 'test', fromTag: 'v1', toTag: 'v2', runId: 'run-1',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    const files = (await readdir(dir)).sort();
    expect(files.map((f) => f.replace(/^\d{8}T\d{6}Z/, 'T'))).toEqual(['T_v1_to_v2.dump', 'T_v1_to_v2.json']);
    expect((err as Error).message).toContain(`the dump ${join(dir, files[0]!)} failed verification (pg_restore -f /dev/null)`);
    const read = await readManifest(join(dir, files[1]!));
    if (!read.ok) throw new Error(read.problem);
    const m = read.manifest;
    expect(m.sizeBytes).toBe((await stat(join(dir, files[0]!))).size);
    expect(m.verified).toMatchObject({ ok: false, by: 'pg_restore -f /dev/null' });
    expect(m.verified?.problems).toEqual([
      `\`pg_restore -f /dev/null\` cannot read ${join(dir, files[0]!)} to the end (the file is truncated): pg_restore: error: could not read from input file: end of file`,
    ]);
  });
});
