// checkRestoreSource and runRestore (the data part every restore shares) against the real PostgreSQL
// of the test run (inject('pg')): both formats into a database that holds data, on this machine and
// over SSH; refusals before anything changes; a failed restore checked; an interrupted one waited for.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres } from '../../sandbox/postgres.ts';
import { countRows } from '../../tasks/lib/backup/counts.ts';
import { takeBackup, type TakeBackupOptions } from '../../tasks/lib/backup/dump.ts';
import { manifestPathFor } from '../../tasks/lib/backup/names.ts';
import { runRestore, type RestoreProgress, type RestoreRunOptions } from '../../tasks/lib/backup/restore-run.ts';
import { checkRestoreSource } from '../../tasks/lib/backup/source.ts';
import { CutoverError, UsageError } from '../../tasks/lib/base/errors.ts';
import type { DumpFormat, PgTarget } from '../../tasks/lib/commands/pg.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';

const sh = promisify(execFile);
const server = inject('pg');
const cluster = connectPostgres(server);
const DB = `restore_run_${process.pid}`;
const created: string[] = [];
const local = new LocalRunner({ name: 'local', address: '127.0.0.1', port: 0, user: 'root' });
let fleet: SshFleet;
let ssh: SshRunner;
let work = '';

const target = (name = DB): PgTarget => ({ name, host: server.host, port: server.port, user: server.user });
const counts = (name = DB) => countRows(local, target(name), undefined);

/** An environment of this database whose backups go to `dir`: what checkRestoreSource reads. */
function environment(dir: string, o: { name?: string; database?: string } = {}): LoadedEnvironment {
  const config = Environment.parse({
    hosts: [{ name: 'h1', address: '127.0.0.1', transport: 'local' }],
    app: { path: '/srv/app', repo: '/srv/origin.git' },
    services: [{ unit: 'app' }],
    database: { ...target(o.database ?? DB), dumpOn: 'local' },
    backups: { dir },
    verify: { health: { url: 'http://127.0.0.1:1/health' } },
  });
  return { name: o.name ?? 'test', file: `environments/${o.name ?? 'test'}.ts`, config, secrets: {}, backupDir: dir };
}

/** The shop as it is "before the deploy": a schema, a foreign key, a view, a sequence, an index. */
async function seed(name = DB): Promise<void> {
  await cluster.psql(
    name,
    `drop schema if exists billing cascade; drop table if exists orders, customers cascade; drop view if exists customer_names;
     create table customers (id serial primary key, name text not null);
     insert into customers (name) select 'customer ' || g from generate_series(1, 500) g;
     create schema billing;
     create table billing."Invoice Lines" (id bigserial primary key, customer int references customers, cents int);
     insert into billing."Invoice Lines" (customer, cents) select 1 + g % 500, g from generate_series(1, 1200) g;
     create index on billing."Invoice Lines" (customer);
     create view customer_names as select name from customers;`,
  );
}

/** What a deploy does to the data afterwards: new rows, rows gone. */
const writeAfter = (name = DB) =>
  cluster.psql(name, `insert into customers (name) values ('late 1'), ('late 2'); delete from billing."Invoice Lines" where id <= 100;`);

const backupOpts = (runner: Runner, dir: string, format: DumpFormat, db = DB): TakeBackupOptions => ({
  runner, db: target(db), format, dir, envName: 'test', fromTag: 'v1', toTag: 'v2', runId: `run-${format}`,
});

function restoreOpts(env: LoadedEnvironment, runner: Runner, source: RestoreRunOptions['source'], extra: Partial<RestoreRunOptions> = {}): RestoreRunOptions {
  return {
    runner, db: { ...target(env.config.database!.name), format: 'custom' }, source, backupDir: env.backupDir, envName: env.name,
    liveTag: 'v2', runId: `restore-${Date.now()}`, scratchDir: work, ...extra,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'restore-run-'));
  await cluster.createDatabase(DB);
  created.push(DB);
  fleet = await startSshHosts(1, { dir: join(work, 'fleet') });
  const h = fleet.hosts[0]!;
  ssh = new SshRunner(
    { name: h.name, address: h.address, port: h.port, user: h.user },
    { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 },
  );
});

afterAll(async () => {
  await ssh?.close();
  await fleet?.stop();
  for (const db of created) await cluster.psql('postgres', `drop database if exists "${db}" with (force)`);
  await rm(work, { recursive: true, force: true });
});

describe('both formats restore into a database that holds data', () => {
  it.each([
    ['custom', 'this machine', () => local],
    ['plain', 'this machine', () => local],
    ['plain', 'a host over SSH', () => ssh],
  ] as const)('%s format, restored on %s: replaced in one transaction, counts equal the manifest, the safety backup holds what was replaced', async (format, _where, runner) => {
    const dir = await mkdtemp(join(work, 'b-'));
    const env = environment(dir);
    await seed();
    const b = await takeBackup(backupOpts(runner(), dir, format));
    await writeAfter();
    const changed = await counts();
    expect(changed).not.toEqual(b.manifest.rowCounts);
    const source = await checkRestoreSource(env, b.dumpPath, { target: { runner: runner() } });
    expect(source.replacesObjects).toBe(true);
    const progress: RestoreProgress[] = [];
    const r = await runRestore(restoreOpts(env, runner(), source, { onProgress: (p) => progress.push(p) }));
    expect(r, r.error).toMatchObject({ outcome: 'restored', dataState: 'as-backup', restoreStarted: true, mismatches: [] });
    expect(r.countsAfter).toEqual(b.manifest.rowCounts);
    expect(await counts()).toEqual(b.manifest.rowCounts);
    expect(r.safety!.manifest.rowCounts).toEqual(changed);
    expect(r.steps.map((s) => [s.name, s.ok])).toEqual([['safety backup', true], ['restore', true]]);
    expect(progress.map((p) => p.step)).toEqual(['safety backup', 'upload', 'restore', 'count rows']);
    // the view and the foreign key came back with the data
    expect(await cluster.psql(DB, 'select count(*) from customer_names')).toBe(String(b.manifest.rowCounts['public.customers']));
  });

  // 1,500: a restore in one transaction holds a lock per object, and 4,000 tables (dropped and created)
  // are past the lock table of a default server (max_locks_per_transaction 64: "out of shared memory")
  it('1,500 tables with long names: every count after the restore is read (streamed, far past a 64 KiB tail), all equal', async () => {
    const many = `restore_many_${process.pid}`;
    await cluster.createDatabase(many);
    created.push(many);
    const name = 'a_table_with_a_long_name_filling_psql_output_number_';
    await cluster.psql(many, `do $$ begin for i in 1..1500 loop
      execute format('create table %I (id int)', '${name}' || i);
      execute format('insert into %I select generate_series(1, %s)', '${name}' || i, i % 5);
      end loop; end $$;`);
    const dir = await mkdtemp(join(work, 'b-'));
    const b = await takeBackup(backupOpts(ssh, dir, 'custom', many));
    await cluster.psql(many, `insert into ${name}1 values (1)`);
    const env = environment(dir, { database: many });
    const r = await runRestore(restoreOpts(env, ssh, await checkRestoreSource(env, b.dumpPath)));
    expect(r.outcome, r.error).toBe('restored');
    expect(Object.keys(r.countsAfter!)).toHaveLength(1500);
    expect(r.countsAfter).toEqual(b.manifest.rowCounts);
  });
});

describe('checkRestoreSource: refused before anything changes (exit 2)', () => {
  let dir = '';
  let dump = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(work, 'b-'));
    await seed();
    dump = (await takeBackup(backupOpts(local, dir, 'custom'))).dumpPath;
  });
  const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as CutoverError);

  it('another environment\'s backup, another database\'s, a corrupted dump, no database at all', async () => {
    const other = await refusal(checkRestoreSource(environment(dir, { name: 'production' }), dump));
    expect(other).toBeInstanceOf(UsageError);
    expect(other!.message).toBe(`${dump.split('/').at(-1)} is a backup of environment test, not production: a restore never crosses environments. Nothing was changed.`);
    const otherDb = await refusal(checkRestoreSource(environment(dir, { database: 'billing' }), dump));
    expect([otherDb!.exitCode, otherDb!.message]).toEqual([2, `${dump.split('/').at(-1)} is a backup of database ${DB}, but environments/test.ts names billing: a restore never crosses databases. Nothing was changed.`]);
    const copy = join(dir, 'copy.dump');
    await writeFile(copy, await readFile(dump));
    const m = JSON.parse(await readFile(manifestPathFor(dump), 'utf8'));
    await writeFile(manifestPathFor(copy), JSON.stringify({ ...m, file: 'copy.dump' }));
    await truncate(copy, Math.floor(m.sizeBytes / 2));
    const cut = await refusal(checkRestoreSource(environment(dir), copy));
    expect(cut!.exitCode).toBe(2);
    expect(cut!.message).toContain(`${copy} cannot be restored: ${copy} is ${Math.floor(m.sizeBytes / 2)} bytes, the manifest says ${m.sizeBytes}: the file is truncated`);
    expect(cut!.message).toContain('(the file is truncated)'); // pg_restore read it to the end, and could not
    const noDb = environment(dir);
    const bare = { ...noDb, config: { ...noDb.config, database: undefined } };
    expect((await refusal(checkRestoreSource(bare, dump)))!.message).toBe('environments/test.ts has no database: there is nothing to restore. Nothing was changed.');
  });

  it('interrupted while reading: exit 130, nothing changed', async () => {
    const e = await refusal(checkRestoreSource(environment(dir), dump, { signal: AbortSignal.abort() }));
    expect([e!.exitCode, e!.message]).toEqual([130, `interrupted while reading ${dump}; nothing was changed.`]);
  });

  it('the good one: read completely, intact', async () => {
    const s = await checkRestoreSource(environment(dir), dump.split('/').at(-1)!);
    expect([s.dumpPath, s.verification.ok, s.replacesObjects]).toEqual([dump, true, true]);
  });
});

describe('plain dumps made before they carried DROP statements', () => {
  /** A plain dump as cutover wrote it before (pg_dump -Fp alone) with a manifest as it was then. */
  async function oldPlainDump(dir: string): Promise<string> {
    const recent = await takeBackup(backupOpts(local, dir, 'plain'));
    const file = join(dir, '20200101T000000Z_v0_to_v1.sql');
    await sh('bash', ['-c', `pg_dump -Fp -h ${server.host} -p ${server.port} -U ${server.user} -d ${DB} > ${file}`]);
    const { dumpOptions: _d, rowCountsFrom: _r, ...old } = recent.manifest;
    const sha = (await sh('sha256sum', [file])).stdout.split(' ')[0];
    const size = (await readFile(file)).length;
    await writeFile(manifestPathFor(file), JSON.stringify({ ...old, file: '20200101T000000Z_v0_to_v1.sql', sha256: sha, sizeBytes: size }));
    return file;
  }

  it('into a database with tables: refused before the safety backup, naming the way out; into an empty one: restored', async () => {
    const dir = await mkdtemp(join(work, 'b-'));
    await seed();
    const file = await oldPlainDump(dir);
    const env = environment(dir);
    const expected = await counts();
    await writeAfter();
    const before = await counts();
    const e = await checkRestoreSource(env, file, { target: { runner: local } }).then(() => null, (x: unknown) => x as CutoverError);
    expect(e).toBeInstanceOf(UsageError);
    expect(e!.message).toContain(
      `20200101T000000Z_v0_to_v1.sql is a plain SQL dump made without DROP statements (before cutover wrote plain dumps with --clean --if-exists), ` +
        `and ${DB} has 2 table(s) (billing.Invoice Lines, public.customers): its CREATE statements would fail on them.`,
    );
    expect(e!.message).toContain(`Restore it into an empty database instead (createdb, then: psql --single-transaction -v ON_ERROR_STOP=1 -d <new database> -f ${file})`);
    // runRestore checks it too (a caller that skipped the preflight): refused, no safety backup taken
    const source = await checkRestoreSource(env, file);
    expect(source.replacesObjects).toBe(false);
    const r = await runRestore(restoreOpts(env, local, source));
    expect(r).toMatchObject({ outcome: 'refused', dataState: 'as-before', safety: null, restoreStarted: false, steps: [] });
    expect(await counts()).toEqual(before);

    const empty = `restore_empty_${process.pid}`;
    await cluster.createDatabase(empty);
    created.push(empty);
    const into = environment(dir, { database: empty });
    const m = JSON.parse(await readFile(manifestPathFor(file), 'utf8'));
    await writeFile(manifestPathFor(file), JSON.stringify({ ...m, database: empty }));
    const ok = await runRestore(restoreOpts(into, local, await checkRestoreSource(into, file, { target: { runner: local } })));
    expect(ok.outcome, ok.error).toBe('restored');
    expect(await counts(empty)).toEqual(expected);
  });
});

describe('a restore that fails, or is interrupted', () => {
  it('fails inside its transaction: the database is as it was, and that is checked (recount against the safety backup)', async () => {
    const dir = await mkdtemp(join(work, 'b-'));
    const env = environment(dir);
    await seed();
    const b = await takeBackup(backupOpts(local, dir, 'custom'));
    await writeAfter();
    // a view elsewhere depends on customers: --clean cannot drop it, and the transaction rolls back
    await cluster.psql(DB, 'create schema blocker; create view blocker.names as select * from public.customers');
    try {
      const before = await counts();
      const r = await runRestore(restoreOpts(env, local, await checkRestoreSource(env, b.dumpPath)));
      expect(r).toMatchObject({ outcome: 'failed-unchanged', dataState: 'as-before', restoreStarted: true });
      expect(r.error).toContain('cannot drop table public.customers because other objects depend on it');
      expect(r.countsAfter).toEqual(before);
      expect(r.steps.map((s) => [s.name, s.ok])).toEqual([['safety backup', true], ['restore', false], ['count rows after the failure', true]]);
      expect(await counts()).toEqual(before);
    } finally {
      await cluster.psql(DB, 'drop schema blocker cascade');
    }
  });

  it('a dump changed after its check (same size, another byte) is never restored: refused, nothing changed', async () => {
    const dir = await mkdtemp(join(work, 'b-'));
    const env = environment(dir);
    await seed();
    const b = await takeBackup(backupOpts(ssh, dir, 'plain'));
    await writeAfter();
    const before = await counts();
    const source = await checkRestoreSource(env, b.dumpPath);
    const text = await readFile(b.dumpPath, 'utf8');
    await writeFile(b.dumpPath, text.replace('customer 250', 'customer 25X'));
    const r = await runRestore(restoreOpts(env, ssh, source));
    expect(r).toMatchObject({ outcome: 'refused', dataState: 'as-before', restoreStarted: false });
    expect(r.error).toMatch(new RegExp(`^${b.dumpPath} changed since it was checked \\(sha256 [0-9a-f]{64}, the manifest says ${b.manifest.sha256}\\): nothing was restored$`));
    expect(await counts()).toEqual(before);
  });

  it('the signal before the restore command: stopped, nothing restored (the safety backup, if any, kept)', async () => {
    const dir = await mkdtemp(join(work, 'b-'));
    const env = environment(dir);
    await seed();
    const b = await takeBackup(backupOpts(local, dir, 'custom'));
    await writeAfter();
    const before = await counts();
    const ac = new AbortController();
    const r = await runRestore(restoreOpts(env, local, await checkRestoreSource(env, b.dumpPath), {
      signal: ac.signal,
      onProgress: (p) => p.step === 'upload' && ac.abort(),
    }));
    expect(r).toMatchObject({ outcome: 'interrupted', dataState: 'as-before', restoreStarted: false, error: 'interrupted before the restore started' });
    expect(r.safety).not.toBeNull();
    expect(await counts()).toEqual(before);
  });

  it('the signal while the restore runs: it is waited for, not cut off; the state is counted and said', async () => {
    const dir = await mkdtemp(join(work, 'b-'));
    const env = environment(dir);
    await seed();
    const b = await takeBackup(backupOpts(ssh, dir, 'custom'));
    await writeAfter();
    // another session holds a lock on customers: the restore's DROP waits for it, so it is in flight when the signal comes
    const holder = spawn('psql', ['-X', '-q', '-h', server.host, '-p', String(server.port), '-U', server.user, '-d', DB], { stdio: ['pipe', 'pipe', 'inherit'] });
    const held = new Promise((resolve) => holder.on('close', resolve));
    await new Promise<void>((resolve) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      holder.stdin!.write("begin; lock table customers in access share mode; select 'locked';\n");
    });
    const ac = new AbortController();
    const waiting: string[] = [];
    const r = await runRestore(restoreOpts(env, ssh, await checkRestoreSource(env, b.dumpPath), {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.step === 'restore' && p.message.startsWith('restoring')) setTimeout(() => ac.abort(), 200);
        if (p.message.startsWith('the restore is one transaction')) {
          waiting.push(p.message);
          holder.stdin!.end('commit;\n');
        }
      },
    }));
    holder.stdin!.end();
    await held;
    expect(waiting).toEqual([`the restore is one transaction: waiting for it to end, so the state of ${DB} is known`]);
    expect(r).toMatchObject({ outcome: 'interrupted', dataState: 'as-backup', restoreStarted: true });
    expect(await counts()).toEqual(b.manifest.rowCounts);
  });
});
