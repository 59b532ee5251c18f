// sandbox/demo-app/migrate.sh against the PostgreSQL cluster of the test run (inject('pg')), a fresh database per test.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { DEFAULT_RELEASES, DEMO_APP_SOURCE } from '../../sandbox/origin.ts';

const run = promisify(execFile);
const pg = inject('pg');
let app = '';
let db = '';
let seq = 0;

const pgEnv = (database: string, port = pg.port) => ({ ...process.env, PGHOST: pg.host, PGPORT: String(port), PGUSER: pg.user, PGDATABASE: database });

async function sql(database: string, query: string): Promise<string[]> {
  const { stdout } = await run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-c', query], { env: pgEnv(database) });
  return stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n');
}

async function migrate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return migrateOn(pg.port, ...args);
}
async function migrateOn(port: number, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('bash', [join(app, 'migrate.sh'), ...args], { env: pgEnv(db, port) });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const versions = () => sql(db, 'select version from schema_migrations order by version');
const addMigration = (name: string, body: string) => writeFile(join(app, 'migrations', name), body);
const release002 = DEFAULT_RELEASES[1]?.migrations?.['002_add_message_channel.sql'] ?? '';

beforeEach(async () => {
  app = await mkdtemp(join(tmpdir(), 'migrate-test-'));
  await cp(DEMO_APP_SOURCE, app, { recursive: true });
  db = `migrate_test_${process.pid}_${++seq}`;
  await sql('postgres', `create database ${db}`);
});
afterEach(async () => {
  await sql('postgres', `drop database if exists ${db} with (force)`);
  await rm(app, { recursive: true, force: true });
});

describe('migrate.sh', () => {
  it('on a fresh database: --pending lists 001 without creating anything, then migrate applies it once', async () => {
    expect(await migrate('--pending')).toEqual({ code: 0, stdout: '001_create_messages.sql\n', stderr: '' });
    expect(await sql(db, "select coalesce(to_regclass('schema_migrations')::text, 'none')")).toEqual(['none']);

    expect(await migrate()).toEqual({ code: 0, stdout: 'migrate: applied 001_create_messages\n', stderr: '' });
    expect(await versions()).toEqual(['001_create_messages']);
    expect(await sql(db, "select column_name from information_schema.columns where table_name = 'messages' order by ordinal_position")).toEqual(['id', 'user_id', 'body', 'created_at']);

    expect(await migrate()).toEqual({ code: 0, stdout: 'migrate: no pending migrations\n', stderr: '' });
    expect(await migrate('--pending')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await versions()).toEqual(['001_create_messages']);
  });

  it("applies only what a new release adds (v1.1.0's 002), in order", async () => {
    await migrate();
    expect(release002).toContain('add column channel');
    await addMigration('002_add_message_channel.sql', release002);
    expect((await migrate('--pending')).stdout).toBe('002_add_message_channel.sql\n');
    expect(await migrate()).toEqual({ code: 0, stdout: 'migrate: applied 002_add_message_channel\n', stderr: '' });
    expect(await versions()).toEqual(['001_create_messages', '002_add_message_channel']);
    expect(await sql(db, "insert into messages (user_id, body) values (1, 'hi') returning channel")).toEqual(['web']);
  });

  it('a broken migration fails, rolls back whole, and stays pending; earlier ones stay applied', async () => {
    await addMigration('002_add_message_channel.sql', release002);
    await addMigration('003_broken.sql', 'create table half_done (x int);\ninsert into no_such_table values (1);\n');
    const res = await migrate();
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('migrate: applied 001_create_messages\nmigrate: applied 002_add_message_channel\n');
    expect(res.stderr).toContain('ERROR:  relation "no_such_table" does not exist');
    expect(res.stderr).toContain('migrate: 003_broken failed; rolled back, nothing of it was applied\n');
    expect(await versions()).toEqual(['001_create_messages', '002_add_message_channel']);
    expect(await sql(db, "select coalesce(to_regclass('half_done')::text, 'none')")).toEqual(['none']);
    expect((await migrate('--pending')).stdout).toBe('003_broken.sql\n');
  });

  it('two runs at once (two hosts, one database) apply each migration exactly once', async () => {
    await addMigration('002_slow.sql', 'select pg_sleep(0.5);\nalter table messages add column channel text;\n');
    const [a, b] = await Promise.all([migrate(), migrate()]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const lines = (a.stdout + b.stdout).split('\n').filter((l) => l.startsWith('migrate: '));
    expect(lines.filter((l) => l.startsWith('migrate: applied ')).sort()).toEqual(['migrate: applied 001_create_messages', 'migrate: applied 002_slow']);
    // 002 sleeps 0.5 s, so the second run always finds it pending and waits on the lock; 001 may be done before it looks
    const skipped = lines.filter((l) => l.endsWith(' was applied meanwhile by another run; skipped'));
    expect(skipped.filter((l) => l.startsWith('migrate: 002_slow '))).toHaveLength(1);
    expect(lines.length).toBe(2 + skipped.length);
    expect(await versions()).toEqual(['001_create_messages', '002_slow']);
  });

  it('fails clearly when the database is unreachable', async () => {
    const res = await migrateOn(1, '--pending');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`migrate: cannot connect to PostgreSQL (PGHOST=127.0.0.1 PGPORT=1 PGDATABASE=${db})\n`);
  });
});
