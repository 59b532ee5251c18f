// The snapshot session connected ahead of time (deploy connects it beside the lock command): it
// exports its snapshot only when begun, so the dump and its counts see what was committed up to
// then; one never begun ends when dropped. Against the test run's real PostgreSQL, psql run by bash here.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectPostgres } from '../../sandbox/postgres.ts';
import { Writable } from 'node:stream';
import { startPendingDump } from '../../tasks/lib/backup/pending-dump.ts';
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

/** A sink that keeps what it is given, and finishes a little later (as a file on a slow disk would). */
function collector(): Writable & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({ write: (c: Buffer, _e, done) => void setTimeout(() => (chunks.push(c), done()), 1) }) as Writable & { text(): string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

describe('startPendingDump: pg_dump started before its snapshot exists', () => {
  it('dumps exactly the rows of the snapshot it is given, and reports only once its sink has finished', async () => {
    const dump = startPendingDump(local, db, 'plain', undefined, new AbortController().signal);
    const pending = connectSnapshotSession(local, db, undefined, new AbortController().signal);
    await cluster.psql(DB, 'create table d (id int); insert into d select generate_series(1, 3);');
    const session = await pending.begin(new AbortController().signal);
    await cluster.psql(DB, 'insert into d select generate_series(4, 9);'); // after the snapshot: not in the dump
    const sink = collector();
    const r = await dump.start(session.snapshot, sink, new AbortController().signal);
    expect([r.code, sink.writableFinished]).toEqual([0, true]);
    const copy = sink.text().split('\n');
    const at = copy.findIndex((l) => l.startsWith('COPY public.d '));
    expect(copy.slice(at + 1, copy.indexOf('\\.', at))).toEqual(['1', '2', '3']);
    expect((await session.finish())['public.d']).toBe(3);
    await dump.drop(); // after use: nothing more
    await cluster.psql(DB, 'drop table d;');
  });

  it('dropped before its snapshot: the waiting shell exits without running pg_dump', async () => {
    const before = Number(await cluster.psql('postgres', `select count(*) from pg_stat_activity where application_name = 'pg_dump'`));
    let result: Promise<unknown> | undefined;
    const spy = Object.create(local, {
      exec: { value: (...a: Parameters<LocalRunner['exec']>) => ((result = local.exec(...a)), result) },
    }) as LocalRunner;
    const dump = startPendingDump(spy, db, 'custom', undefined, new AbortController().signal);
    await dump.drop();
    expect(await result).toMatchObject({ code: 1, stdout: '', stderr: '' }); // `read` found no line; pg_dump never started
    expect(Number(await cluster.psql('postgres', `select count(*) from pg_stat_activity where application_name = 'pg_dump'`))).toBe(before);
  });
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
