// The snapshot session connected ahead of time (deploy connects it beside the lock command): it
// exports its snapshot only when begun, so the dump and its counts see what was committed up to
// then; one never begun ends when dropped. Against the test run's real PostgreSQL, psql run by bash here.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres } from '../../sandbox/postgres.ts';
import { connectSnapshotSession } from '../../tasks/lib/backup/snapshot.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';

const server = inject('pg');
const cluster = connectPostgres(server);
const DB = `snap_session_${process.pid}`;
const db = { name: DB, host: server.host, port: server.port, user: server.user };
const local = new LocalRunner({ name: 'local', address: '127.0.0.1', port: 0, user: 'root' });
const sessions = async () => Number(await cluster.psql('postgres', `select count(*) from pg_stat_activity where datname = '${DB}' and pid <> pg_backend_pid()`));

beforeAll(async () => {
  await cluster.createDatabase(DB);
  await cluster.psql(DB, 'create table t (id int); insert into t select generate_series(1, 10);');
});

afterAll(async () => {
  await cluster.psql('postgres', `drop database if exists "${DB}" with (force)`);
});

describe('connectSnapshotSession', () => {
  it('connects at once, but the snapshot is taken when begun: rows committed in between are counted', async () => {
    const pending = connectSnapshotSession(local, db, undefined, new AbortController().signal);
    await until(async () => (await sessions()) === 1); // psql is connected, waiting for its SQL
    await cluster.psql(DB, 'insert into t select generate_series(11, 15);'); // committed while the lock would be taken
    const session = await pending.begin(new AbortController().signal);
    expect(session.snapshot).toMatch(/^[0-9A-F]+-[0-9A-F]+-[0-9]+$/);
    await cluster.psql(DB, 'insert into t select generate_series(16, 20);'); // after the snapshot: not in it
    expect(await session.finish()).toEqual({ 'public.t': 15 });
    await until(async () => (await sessions()) === 0);
  });

  it('finish answers with the counts once their end marker is read, without waiting for the session to end', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let ended = false;
    // the real runner, whose result is handed over only when the test says: the session "has not ended" until then
    const held = Object.create(local, {
      exec: { value: (...a: Parameters<LocalRunner['exec']>) => local.exec(...a).then(async (r) => (await gate, (ended = true), r)) },
    }) as LocalRunner;
    const session = await connectSnapshotSession(held, db, undefined, new AbortController().signal).begin(new AbortController().signal);
    expect(await session.finish()).toEqual({ 'public.t': 20 });
    expect(ended).toBe(false);
    release();
    await until(async () => ended && (await sessions()) === 0);
  });

  it('dropped without being begun: psql ends, its connection closes, nothing was exported', async () => {
    const pending = connectSnapshotSession(local, db, undefined, new AbortController().signal);
    await until(async () => (await sessions()) === 1);
    await pending.drop(); // resolves only once psql has exited: a pipe left open would keep it (and this process) waiting
    await until(async () => (await sessions()) === 0);
    await pending.drop(); // twice: nothing more
  });

  it('stopped by the signal given to begin (a backup over its time limit) while it opens', async () => {
    const pending = connectSnapshotSession(local, { ...db, name: `${DB}_missing` }, undefined, new AbortController().signal);
    const stop = new AbortController();
    stop.abort();
    await expect(pending.begin(stop.signal)).rejects.toThrow(/^psql could not open the dump's snapshot: it /);
  });
});

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
