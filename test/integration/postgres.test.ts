// The run-wide PostgreSQL cluster from global-setup, and the sandbox/postgres.ts helpers.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { connectPostgres, ensurePostgres, findPgBinDir, freePort } from '../../sandbox/postgres.ts';

const exec = promisify(execFile);
const pg = inject('pg');
const db = connectPostgres(pg);

describe('the injected cluster', () => {
  it('answers psql on 127.0.0.1 as the trusted superuser cutover', async () => {
    const { stdout } = await exec('psql', ['-X', '-h', pg.host, '-p', String(pg.port), '-U', pg.user, '-d', 'postgres', '-At',
      '-c', "select current_user || ' ' || (select rolsuper from pg_roles where rolname = current_user) || ' ' || current_setting('listen_addresses') || ' ' || current_setting('fsync')"]);
    expect(pg.host).toBe('127.0.0.1');
    expect(pg.user).toBe('cutover');
    expect(stdout).toBe('cutover true 127.0.0.1 off\n');
  });

  it('creates a database (idempotently) and round-trips rows through psql', async () => {
    const name = `roundtrip_${process.pid}_${Date.now()}`;
    await db.createDatabase(name);
    await db.createDatabase(name);
    expect(await db.psql('postgres', `select count(*) from pg_database where datname = '${name}'`)).toBe('1');
    const out = await db.psql(name, [
      'create table notes (id int primary key, body text);',
      "insert into notes values (1, 'first'), (2, 'it''s second');",
      'select id, body from notes order by id;',
    ].join('\n'));
    expect(out).toBe("1|first\n2|it's second");
    await expect(db.psql(name, 'select 1;\nselect * from missing_table;\nselect 2;')).rejects.toThrow(/relation "missing_table" does not exist/);
    await db.psql('postgres', `drop database "${name}"`);
  });

  it('quotes odd database names', async () => {
    const name = `Odd "name" ${process.pid}`;
    await db.createDatabase(name);
    expect(await db.psql(name, 'select current_database()')).toBe(name);
    await db.psql('postgres', `drop database "${name.replaceAll('"', '""')}"`);
  });
});

describe('ensurePostgres', () => {
  it('starts a cluster on the given port, then reuses it', async () => {
    expect(findPgBinDir()).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin$/);
    const dir = await mkdtemp(join(tmpdir(), 'cutover-pg-ensure-'));
    const port = await freePort();
    try {
      const first = await ensurePostgres({ dir, port });
      const pidOf = async () => (await readFile(join(first.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
      const pid = await pidOf();
      expect(first.port).toBe(port);
      expect(await first.psql('postgres', 'show port')).toBe(String(port));
      if (process.getuid?.() === 0) expect((await stat(first.dataDir)).uid).toBe(Number((await exec('id', ['-u', 'postgres'])).stdout));
      const second = await ensurePostgres({ dir, port });
      expect(await pidOf()).toBe(pid);
      expect(await second.psql('postgres', 'select 41 + 1')).toBe('42');
      await second.stop();
      await expect(readFile(join(first.dataDir, 'postmaster.pid'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
