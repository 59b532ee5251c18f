// pruneAfterRun: the protection read from the history on the host that keeps it (here this machine,
// through the local runner: the same bash commands as over SSH), never from the machine's own memory.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest, type BackupManifest } from '../../tasks/lib/backup/manifest.ts';
import { pruneAfterRun } from '../../tasks/lib/backup/prune-after-run.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { appendHistory } from '../../tasks/lib/state/history.ts';
import type { HistoryEvent } from '../../tasks/lib/state/records.ts';

const runner = new LocalRunner({ name: 'app1', address: '127.0.0.1', port: 0, user: 'root' });
let work = '';
let env: LoadedEnvironment;
let state = '';
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'backup-prune-'));
  state = join(work, 'state');
  const backupDir = join(work, 'backups');
  const config = Environment.parse({
    hosts: [{ name: 'app1', address: '127.0.0.1', transport: 'local' }],
    app: { path: join(work, 'app'), repo: '/srv/origin.git', stateDir: state },
    services: [{ unit: 'app' }],
    backups: { dir: backupDir, keep: 2 },
    verify: { health: { url: 'http://127.0.0.1:1/health' } },
  });
  env = { name: 'production', file: 'environments/production.ts', config, secrets: {}, backupDir };
  await mkdir(backupDir);
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function make(names: string[]): Promise<void> {
  for (const [i, name] of names.entries()) {
    const createdAt = new Date(Date.UTC(2026, 2, 1, 9, i)).toISOString();
    await writeFile(join(env.backupDir, `${name}.dump`), 'PGDM');
    const m: BackupManifest = {
      manifestVersion: 1, file: `${name}.dump`, envName: 'production', database: 'harena', host: 'app1', dbAddress: '127.0.0.1:5432',
      dbUser: 'harena', serverVersion: '15.18', format: 'custom', sizeBytes: 4, sha256: 'a'.repeat(64), durationMs: 1, fromTag: null,
      toTag: 'v', runId: `run-${name}`, createdAt, rowCounts: {}, verified: { at: createdAt, by: 'pg_restore -f /dev/null', ok: true },
    };
    await writeManifest(join(env.backupDir, `${name}.json`), m);
  }
}
const dumps = async () => (await readdir(env.backupDir)).filter((f) => f.endsWith('.dump')).sort();
/** The history on the "host", as another machine wrote it (its own path for the dump). */
async function deployed(runId: string, from: string, to: string, dump: string): Promise<void> {
  const events: HistoryEvent[] = [
    { type: 'started', runId, task: 'deploy', env: 'production', who: 'carol@other-laptop', from, to, at: '2026-03-01T10:00:00.000Z' },
    { type: 'finished', runId, task: 'deploy', env: 'production', result: 'deployed', live: to, steps: [], backupFile: `/Users/carol/ops/backups/production/${dump}`, at: '2026-03-01T10:01:00.000Z' },
  ];
  for (const e of events) await appendHistory(runner, state, null, e);
}

describe('pruneAfterRun', () => {
  it('keeps the newest N and what the history on the host protects, and says why', async () => {
    await make(['D', 'a', 'b', 'c']);
    await deployed('r1', 'v3.2.6', 'v3.2.7', 'D.dump');
    const r = await pruneAfterRun(env, runner);
    expect(r.skipped).toBeNull();
    expect(await dumps()).toEqual(['D.dump', 'b.dump', 'c.dump']);
    expect(r.notes).toEqual(['pruned 1 old backup(s) (keep: 2)', 'kept D.dump beyond the newest 2: pre-deploy dump of v3.2.7 (run r1): rollback --restore-db can still return to it']);
  });

  it('never the dump a run is about to restore', async () => {
    await make(['x', 'a', 'b', 'c']);
    const r = await pruneAfterRun(env, runner, { restoring: join(env.backupDir, 'x.dump') });
    expect(await dumps()).toEqual(['b.dump', 'c.dump', 'x.dump']);
    expect(r.notes).toContain('kept x.dump beyond the newest 2: a run is about to restore it');
  });

  it('a history that cannot be read: nothing pruned, and the note says why (never a failed run)', async () => {
    await make(['a', 'b', 'c', 'd']);
    await mkdir(join(state, 'history.jsonl'), { recursive: true }); // a folder where the file should be
    const r = await pruneAfterRun(env, runner);
    expect(r.result).toBeNull();
    expect(r.skipped).toMatch(/^backups not pruned: cannot read the history on app1, so the dumps rollback needs are unknown \(app1: /);
    expect(await dumps()).toEqual(['a.dump', 'b.dump', 'c.dump', 'd.dump']);
  });
});
