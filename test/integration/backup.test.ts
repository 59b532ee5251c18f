// takeBackup / verifyBackup / pruneBackups against the real PostgreSQL of the test run (inject('pg')),
// with pg_dump run by bash on this machine (LocalRunner) and on a sandbox host, streamed back over SSH.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres } from '../../sandbox/postgres.ts';
import { takeBackup, type TakeBackupOptions } from '../../tasks/lib/backup/dump.ts';
import { BackupFailedError } from '../../tasks/lib/backup/errors.ts';
import { readManifest, type BackupManifest } from '../../tasks/lib/backup/manifest.ts';
import { listBackups, pruneBackups } from '../../tasks/lib/backup/retention.ts';
import { verifyBackup } from '../../tasks/lib/backup/integrity.ts';
import { parseRowCounts, pg, type PgTarget } from '../../tasks/lib/commands/pg.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';

const sh = promisify(execFile);
const server = inject('pg');
const cluster = connectPostgres(server);
const SRC = `backup_src_${process.pid}`;
const BIG = `backup_big_${process.pid}`;
const EXPECTED = { 'billing.Invoice Lines': 2500, 'public.customers': 1000, 'public.empty': 0 };
const NEXT =
  'Nothing was changed on any host and no dump was kept. Check the database settings (name, host, port, user, password) and that pg_dump can reach the server from where it runs, then deploy again.';

let work = '';
let fleet: SshFleet;
let ssh: SshRunner;
const local = new LocalRunner({ name: 'local', address: '127.0.0.1', port: 0, user: 'root' });
const created: string[] = [];
let seq = 0;

const target = (name: string): PgTarget => ({ name, host: server.host, port: server.port, user: server.user });
const newDir = () => mkdtemp(join(work, 'backups-'));
const sshRunner = (): SshRunner => {
  const h = fleet.hosts[0]!;
  return new SshRunner(
    { name: h.name, address: h.address, port: h.port, user: h.user },
    { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 },
  );
};
const opts = (runner: Runner, dir: string, extra: Partial<TakeBackupOptions> = {}): TakeBackupOptions => ({
  runner,
  db: target(SRC),
  format: 'custom',
  dir,
  envName: 'test',
  fromTag: 'v1.0.0',
  toTag: 'v1.1.0',
  runId: 'run-42',
  now: new Date('2025-11-21T21:13:05.123Z'),
  ...extra,
});

async function counts(db: string): Promise<Record<string, number>> {
  const r = await local.exec(pg.rowCounts(target(db)));
  expect(r.stderr).toBe('');
  return parseRowCounts(r.stdout);
}

/** Restores into a fresh database and returns its row counts. */
async function restoredCounts(file: string, format: 'custom' | 'plain'): Promise<Record<string, number>> {
  const db = `backup_restore_${process.pid}_${++seq}`;
  await cluster.createDatabase(db);
  created.push(db);
  const conn = ['-h', server.host, '-p', String(server.port), '-U', server.user, '-d', db];
  if (format === 'custom') await sh('pg_restore', ['--no-owner', '--exit-on-error', ...conn, file]);
  else await sh('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...conn, '-f', file]);
  return counts(db);
}

const sha256sum = async (file: string) => (await sh('sha256sum', [file])).stdout.split(' ')[0];
const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** Every file under `dir` with its size and content hash: "nothing else changed" is this, equal before and after. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out.push(`${p} ${(await stat(p)).size} ${await sha256sum(p)}`);
  }
  return out.sort();
}

/** pg_dump sessions still connected to `db` (a stopped dump must not leave one behind). */
async function dumpSessions(db: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const n = Number(await cluster.psql('postgres', `select count(*) from pg_stat_activity where datname = '${db}' and application_name = 'pg_dump'`));
    if (n === 0) return 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return -1;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'backup-it-'));
  for (const db of [SRC, BIG]) {
    await cluster.createDatabase(db);
    created.push(db);
  }
  await cluster.psql(
    SRC,
    `create table customers (id int primary key, name text not null);
     insert into customers select g, 'customer ' || g from generate_series(1, 1000) g;
     create schema billing;
     create table billing."Invoice Lines" (id bigserial primary key, customer int references customers, cents int);
     insert into billing."Invoice Lines" (customer, cents) select 1 + g % 1000, g * 3 from generate_series(1, 2500) g;
     create table empty (x int);
     create view customer_names as select name from customers;`,
  );
  // ~10 MB compressed: pg_dump is still writing when the first chunk arrives here
  await cluster.psql(BIG, `create table t as select g as id, md5(g::text) || md5((g * 7)::text) as v from generate_series(1, 300000) g;`);
  fleet = await startSshHosts(1, { dir: join(work, 'fleet') });
  ssh = sshRunner();
});

afterAll(async () => {
  await ssh?.close();
  await fleet?.stop();
  for (const db of created) await cluster.psql('postgres', `drop database if exists "${db}" with (force)`);
  await rm(work, { recursive: true, force: true });
});

function expectManifest(m: BackupManifest, host: string, format: 'custom' | 'plain', file: string): void {
  expect(m).toEqual({
    manifestVersion: 1,
    file,
    envName: 'test',
    database: SRC,
    host,
    dbAddress: `${server.host}:${server.port}`,
    dbUser: server.user,
    serverVersion: expect.stringMatching(/^15\.\d+ /),
    format,
    dumpOptions: format === 'custom' ? ['-Fc'] : ['-Fp', '--clean', '--if-exists'],
    sizeBytes: expect.any(Number),
    sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    durationMs: expect.any(Number),
    fromTag: 'v1.0.0',
    toTag: 'v1.1.0',
    runId: 'run-42',
    createdAt: '2025-11-21T21:13:05.123Z',
    rowCounts: EXPECTED,
    rowCountsFrom: 'dump-snapshot',
    verified: { at: expect.any(String), by: format === 'custom' ? 'pg_restore -f /dev/null' : 'pg_dump completion comment', ok: true },
  });
}

describe('takeBackup', () => {
  it.each([
    ['local (bash on this machine)', () => local, 'local'],
    ['over SSH (the dump streamed back through the channel)', () => ssh, 'host1'],
  ])('custom format, %s: 0600 file, manifest right, sha256 = sha256sum, restores to the same row counts', async (_label, runner, host) => {
    const dir = join(await newDir(), 'nested', 'env');
    const b = await takeBackup(opts(runner(), dir, { password: 'pw-not-needed-by-trust' }));
    const name = '20251121T211305Z_v1.0.0_to_v1.1.0';
    expect([b.dumpPath, b.manifestPath]).toEqual([join(dir, `${name}.dump`), join(dir, `${name}.json`)]);
    expect((await readdir(dir)).sort()).toEqual([`${name}.dump`, `${name}.json`]);
    expect([await mode(dir), await mode(b.dumpPath), await mode(b.manifestPath)]).toEqual([0o700, 0o600, 0o600]);
    expectManifest(b.manifest, host, 'custom', `${name}.dump`);
    expect(await readManifest(b.manifestPath)).toEqual({ ok: true, manifest: b.manifest });
    expect(b.manifest.sha256).toBe(await sha256sum(b.dumpPath));
    expect(b.manifest.sizeBytes).toBe((await stat(b.dumpPath)).size);
    expect((await readFile(b.dumpPath)).subarray(0, 5).toString()).toBe('PGDMP');
    expect(b.verification).toMatchObject({ ok: true, format: 'custom', by: 'pg_restore -f /dev/null', problems: [] });
    expect(await restoredCounts(b.dumpPath, 'custom')).toEqual(EXPECTED);
  });

  it('plain format over SSH: .sql, verified by its completion comment, restores with psql', async () => {
    const dir = await newDir();
    const b = await takeBackup(opts(ssh, dir, { format: 'plain', fromTag: null }));
    expect(b.dumpPath).toBe(join(dir, '20251121T211305Z_none_to_v1.1.0.sql'));
    expect(b.manifest).toMatchObject({ format: 'plain', fromTag: null, rowCounts: EXPECTED, verified: { ok: true, by: 'pg_dump completion comment' } });
    expect(b.manifest.sha256).toBe(await sha256sum(b.dumpPath));
    expect(await mode(b.dumpPath)).toBe(0o600);
    expect(await restoredCounts(b.dumpPath, 'plain')).toEqual(EXPECTED);
  });

  it('a second backup in the same second gets its own name', async () => {
    const dir = await newDir();
    const a = await takeBackup(opts(local, dir));
    const b = await takeBackup(opts(local, dir));
    expect([a.dumpPath, b.dumpPath]).toEqual([join(dir, '20251121T211305Z_v1.0.0_to_v1.1.0.dump'), join(dir, '20251121T211305Z_v1.0.0_to_v1.1.0-2.dump')]);
    expect(b.manifestPath).toBe(join(dir, '20251121T211305Z_v1.0.0_to_v1.1.0-2.json'));
  });

  it('a backup folder that cannot be created, or a run already cancelled: refused before pg_dump runs', async () => {
    const file = join(work, 'a-file');
    await writeFile(file, 'x');
    const err = (await takeBackup(opts(local, join(file, 'sub'))).catch((e: unknown) => e)) as BackupFailedError;
    expect(err).toBeInstanceOf(BackupFailedError);
    expect([err.exitCode, err.message.split('\n')[0]]).toEqual([2, `this machine: cannot create a dump file in ${join(file, 'sub')}: ENOTDIR: not a directory, mkdir '${join(file, 'sub')}'`]);
    const dir = await newDir();
    const cancelled = (await takeBackup(opts(local, dir, { signal: AbortSignal.abort() })).catch((e: unknown) => e)) as BackupFailedError;
    expect([cancelled.exitCode, cancelled.message]).toEqual([130, 'local: the backup was cancelled before it started\nNothing was changed.']);
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['local', () => local],
    ['host1', () => ssh],
  ])('a wrong database name on %s: BackupFailedError (exit 2) naming host, command and stderr; no dump left; nothing else changed', async (host, runner) => {
    const dir = await newDir();
    const earlier = await takeBackup(opts(local, dir, { now: new Date('2025-11-20T08:00:00Z') }));
    const before = [...(await snapshot(dir)), ...(await snapshot(fleet.hosts[0]!.root))];
    const bad = `nope_${process.pid}`;
    const secret = 'S3cret-pass!';
    const err = await takeBackup(opts(runner(), dir, { db: target(bad), password: secret })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    const e = err as BackupFailedError;
    expect(e.exitCode).toBe(2);
    // the session that exports the dump's snapshot connects first: it is the one that says so
    const cmd = `IFS= read -r PGPASSWORD && export PGPASSWORD && psql -X -w -q -At -v ON_ERROR_STOP=1 -h ${server.host} -p ${server.port} -U ${server.user} -d ${bad}`;
    const stderr = `psql: error: connection to server at "${server.host}", port ${server.port} failed: FATAL:  database "${bad}" does not exist`;
    expect(e.message).toBe(`${host}: psql could not open the dump's snapshot: it exited 2\n  command: ${cmd}\n    ${stderr}\n${NEXT}`);
    expect([e.host, e.command, e.stderrTail]).toEqual([host, cmd, stderr]);
    expect(e.message).not.toContain(secret);
    expect([...(await snapshot(dir)), ...(await snapshot(fleet.hosts[0]!.root))]).toEqual(before);
    expect((await listBackups(dir)).map((x) => x.dumpPath)).toEqual([earlier.dumpPath]);
    expect(await counts(SRC)).toEqual(EXPECTED);
  });

  it.each([
    ['local', () => local],
    ['host1', () => ssh],
  ])('a dump stopped mid-stream on %s (Ctrl-C): exit 130, no file left, no pg_dump session left', async (host, runner) => {
    const dir = await newDir();
    const ac = new AbortController();
    let seen = 0;
    const err = await takeBackup(opts(runner(), dir, { db: target(BIG), signal: ac.signal, onProgress: (n) => ((seen = n), ac.abort()) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    expect((err as BackupFailedError).exitCode).toBe(130);
    expect((err as BackupFailedError).message.split('\n')[0]).toBe(`${host}: pg_dump was stopped (aborted)`);
    expect(seen).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual([]);
    expect(await dumpSessions(BIG)).toBe(0);
  });

  it.each([
    ['local', () => local],
    ['host1', () => ssh],
  ])('a dump over its time limit on %s: exit 2, "timed out", no file left', async (host, runner) => {
    const dir = await newDir();
    const err = (await takeBackup(opts(runner(), dir, { db: target(BIG), timeoutMs: 250 })).catch((e: unknown) => e)) as BackupFailedError;
    expect(err).toBeInstanceOf(BackupFailedError);
    // the limit is the whole backup's: on a busy machine it may fall before pg_dump starts (the session still opening)
    expect(err.exitCode).toBe(2);
    const first = err.message.split('\n')[0]!;
    expect([`${host}: pg_dump was stopped`, `${host}: psql could not open the dump's snapshot: it was stopped (aborted)`, `${host}: psql could not open the dump's snapshot: it was stopped (aborted before it started)`]).toContain(first.replace(/ \(timed out after 250 ms\)$/, ''));
    expect(first).toMatch(/ \(timed out after 250 ms\)$/);
    expect(await readdir(dir)).toEqual([]);
    expect(await dumpSessions(BIG)).toBe(0);
  });

  it('a dump that ends on its own (exit 1, its output cut) as the time limit stops it: still "timed out", exit 2', async () => {
    const dir = await newDir();
    // the psql session runs for real; pg_dump's part is what SSH can report: its own exit 1 arrives before the kill (a busy CI run saw it)
    const racing: Runner = {
      host: local.host,
      close: () => local.close(),
      exec: (cmd, o) => {
        if (!cmd.script.includes('pg_dump ')) return local.exec(cmd, o);
        return new Promise((resolve) => {
          const exit1 = () => (o?.sink?.end(), resolve({ host: 'local', code: 1, stdout: '', stderr: 'pg_dump: error: could not write to output file', stdoutBytes: 0, durationMs: 1 }));
          // the limit may have fallen between the session's start and this call: a listener added now would never fire
          if (o?.signal?.aborted) exit1();
          else o?.signal?.addEventListener('abort', exit1, { once: true });
        });
      },
    };
    const err = (await takeBackup(opts(racing, dir, { db: target(BIG), timeoutMs: 3000 })).catch((e: unknown) => e)) as BackupFailedError;
    expect(err).toBeInstanceOf(BackupFailedError);
    expect(err.exitCode).toBe(2);
    // on a busy machine the limit may fall while the session still opens: the other wording of the same cause
    expect(err.message.split('\n')[0]).toMatch(/^local: (pg_dump was stopped|psql could not open the dump's snapshot: it was stopped \(aborted( before it started)?\)) \(timed out after 3000 ms\)$/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('the SSH connection cut mid-dump: exit 2, "connection lost", no file left', async () => {
    const dir = await newDir();
    const runner = sshRunner();
    let cut = false;
    const killSessions = async () => {
      // the listening sshd we started forks one process per connection: kill those (by pid), keep the listener
      const { stdout } = await sh('ps', ['-o', 'pid=', '--ppid', String(fleet.hosts[0]!.pid)]);
      for (const pid of stdout.split('\n').map((s) => Number(s.trim())).filter(Boolean)) process.kill(pid, 'SIGKILL');
    };
    try {
      const err = await takeBackup(
        opts(runner, dir, { db: target(BIG), onProgress: () => void (cut ? undefined : ((cut = true), killSessions())) }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackupFailedError);
      expect((err as BackupFailedError).exitCode).toBe(2);
      expect((err as BackupFailedError).message.split('\n')[0]).toBe('host1: pg_dump was stopped (connection lost before the command finished)');
      expect(await readdir(dir)).toEqual([]);
      expect(await dumpSessions(BIG)).toBe(0);
    } finally {
      await runner.close();
    }
  });
});

describe('row counts from the dump\'s own snapshot', () => {
  const BUSY = `backup_busy_${process.pid}`;
  const MANY = `backup_many_${process.pid}`;
  beforeAll(async () => {
    for (const db of [BUSY, MANY]) {
      await cluster.createDatabase(db);
      created.push(db);
    }
    // a big table keeps pg_dump busy while a writer commits rows into another one
    await cluster.psql(BUSY, `create table big as select g as id, md5(g::text) as v from generate_series(1, 300000) g;
      create table events (id bigserial primary key, at timestamptz default now()); create table stop_writer (x int);`);
    // 4,000 tables with long names: their count lines are far beyond the runners' 64 KiB tail
    await cluster.psql(MANY, `do $$ begin for i in 1..4000 loop
      execute format('create table %I (id int)', 'a_table_with_a_rather_long_name_number_' || i);
      execute format('insert into %I select generate_series(1, %s)', 'a_table_with_a_rather_long_name_number_' || i, i % 7);
      end loop; end $$;`);
  });

  it.each([
    ['local', () => local],
    ['host1', () => ssh],
  ])('on %s, with rows committed all through the dump, the manifest counts equal the restored data exactly', async (_host, runner) => {
    await cluster.psql(BUSY, 'delete from stop_writer');
    // one row per transaction, about a thousand a second, until told to stop (a DO block may commit between statements)
    const writer = sh('psql', ['-X', '-q', '-h', server.host, '-p', String(server.port), '-U', server.user, '-d', BUSY, '-c',
      `do $$ begin loop insert into events default values; commit; perform pg_sleep(0.001); exit when exists (select from stop_writer); end loop; end $$;`]);
    const rowsNow = async () => Number(await cluster.psql(BUSY, 'select count(*) from events'));
    try {
      while ((await rowsNow()) < 100) await new Promise((r) => setTimeout(r, 20)); // the writer is writing
      const b = await takeBackup(opts(runner(), await newDir(), { db: target(BUSY) }));
      const during = b.manifest.rowCounts['public.events']!;
      expect(await rowsNow()).toBeGreaterThan(during); // writes went on after the snapshot
      expect(await restoredCounts(b.dumpPath, 'custom')).toEqual(b.manifest.rowCounts);
      expect(b.manifest.rowCountsFrom).toBe('dump-snapshot');
    } finally {
      await cluster.psql(BUSY, 'insert into stop_writer values (1)');
      await writer;
    }
  });

  it('a database with 4,000 tables: 4,000 exact counts in the manifest (streamed, not a 64 KiB tail)', async () => {
    const b = await takeBackup(opts(ssh, await newDir(), { db: target(MANY) }));
    const expected = Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`public.a_table_with_a_rather_long_name_number_${i + 1}`, (i + 1) % 7]));
    expect(Object.keys(b.manifest.rowCounts)).toHaveLength(4000);
    expect(b.manifest.rowCounts).toEqual(expected);
  });
});

describe('verifyBackup', () => {
  let good: { dumpPath: string; manifest: BackupManifest };
  let plain: { dumpPath: string; manifest: BackupManifest };
  beforeAll(async () => {
    const dir = await newDir();
    good = await takeBackup(opts(local, dir));
    plain = await takeBackup(opts(local, dir, { format: 'plain' }));
  });

  it('THE TRAP: a dump cut to half its size passes `pg_restore --list` but fails verifyBackup', async () => {
    const half = join(work, 'half.dump');
    await copyFile(good.dumpPath, half);
    const size = good.manifest.sizeBytes;
    await truncate(half, Math.floor(size / 2));
    const list = await sh('pg_restore', ['--list', half]); // execFile rejects on a non-zero exit: this one exits 0
    expect(list.stdout).toContain('TABLE DATA billing Invoice Lines cutover'); // and the table of contents looks complete
    expect(list.stderr).toBe('');

    const r = await verifyBackup(half, good.manifest);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toEqual(['truncated', 'checksum-mismatch', 'truncated']);
    expect(r.problems[0]!.message).toBe(`${half} is ${Math.floor(size / 2)} bytes, the manifest says ${size}: the file is truncated`);
    expect(r.problems[2]!.message).toBe(
      `\`pg_restore -f /dev/null\` cannot read ${half} to the end (the file is truncated): pg_restore: error: could not read from input file: end of file`,
    );
    // without a manifest the full read alone catches it
    expect((await verifyBackup(half)).problems.map((p) => p.kind)).toEqual(['truncated']);
  });

  it('a checksum mismatch is detected even when the file still reads to the end', async () => {
    const copy = join(work, 'flipped.sql');
    await copyFile(plain.dumpPath, copy);
    const text = await readFile(copy, 'utf8');
    const at = text.indexOf('customer 500');
    expect(at).toBeGreaterThan(0);
    const fh = await open(copy, 'r+');
    await fh.write('X', Buffer.byteLength(text.slice(0, at)));
    await fh.close();
    expect((await verifyBackup(copy)).ok).toBe(true); // still a complete dump...
    const r = await verifyBackup(copy, plain.manifest); // ...but not the one that was taken
    expect(r.problems).toEqual([{ kind: 'checksum-mismatch', message: `sha256 of ${copy} is ${await sha256sum(copy)}, the manifest says ${plain.manifest.sha256}` }]);
  });

  it('plain format cut short: no completion comment; a missing file; garbage in custom clothing', async () => {
    const half = join(work, 'half.sql');
    await copyFile(plain.dumpPath, half);
    await truncate(half, Math.floor(plain.manifest.sizeBytes / 2));
    expect((await verifyBackup(half)).problems).toEqual([
      { kind: 'truncated', message: `${half} does not end with pg_dump's "PostgreSQL database dump complete" comment: the dump is incomplete` },
    ]);
    const missing = await verifyBackup(join(work, 'none.dump'));
    expect([missing.ok, missing.problems[0]!.kind]).toEqual([false, 'missing']);
    const garbage = join(work, 'garbage.dump');
    await writeFile(garbage, 'PGDMP this is not a dump');
    const g = await verifyBackup(garbage);
    expect([g.format, g.problems.map((p) => p.kind)]).toEqual(['custom', ['unreadable']]);
  });

  it('the good ones pass, with and without their manifest', async () => {
    for (const b of [good, plain]) {
      expect(await verifyBackup(b.dumpPath, b.manifest)).toMatchObject({ ok: true, sizeBytes: b.manifest.sizeBytes, sha256: b.manifest.sha256, problems: [] });
      expect((await verifyBackup(b.dumpPath)).ok).toBe(true);
    }
  });
});

describe('retention with real backups', () => {
  it('keeps the newest N and the newest verified one', async () => {
    const dir = await newDir();
    const at = (h: number) => new Date(Date.UTC(2025, 10, 21, h));
    const oldest = await takeBackup(opts(local, dir, { now: at(1) }));
    const verified = await takeBackup(opts(local, dir, { now: at(2) }));
    await takeBackup(opts(local, dir, { now: at(3), verify: false }));
    const newest = await takeBackup(opts(local, dir, { now: at(4), verify: false }));
    expect((await listBackups(dir)).map((b) => b.manifest.createdAt)).toEqual([at(4), at(3), at(2), at(1)].map((d) => d.toISOString()));
    const r = await pruneBackups(dir, 1);
    expect(r.kept.map((b) => b.dumpPath)).toEqual([newest.dumpPath, verified.dumpPath]);
    expect(r.removed.map((b) => b.manifest.createdAt)).toEqual([at(3).toISOString(), oldest.manifest.createdAt]);
    expect((await readdir(dir)).sort()).toEqual(
      [newest.dumpPath, newest.manifestPath, verified.dumpPath, verified.manifestPath].map((p) => p.slice(dir.length + 1)).sort(),
    );
  });
});
