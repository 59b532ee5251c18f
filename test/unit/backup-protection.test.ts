// Retention never deletes the way back: the rollback chain's pre-deploy dumps, a dump a run is about to
// restore, the newest verified dump that is really there. Pure functions, then prune on a real folder.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest, type BackupManifest } from '../../tasks/lib/backup/manifest.ts';
import { NEWEST_VERIFIED, protectedDumps } from '../../tasks/lib/backup/protection.ts';
import { listBackups, presence, pruneBackups, pruneSelection, type BackupEntry } from '../../tasks/lib/backup/retention.ts';
import type { HistoryEvent } from '../../tasks/lib/state/records.ts';

let n = 0;
const at = () => new Date(Date.UTC(2026, 2, 1, 10, 0, n++)).toISOString();
/** A deploy of `to` from `from`, its pre-deploy dump `dump` (recorded in the finished event, as deploy does). */
function deploy(runId: string, from: string | null, to: string, dump: string | null, result: 'deployed' | 'rolled-back' = 'deployed'): HistoryEvent[] {
  return [
    { type: 'started', runId, task: 'deploy', env: 'production', who: 'alice@laptop', from, to, at: at() },
    { type: 'finished', runId, task: 'deploy', env: 'production', result, live: result === 'deployed' ? to : from, steps: [], ...(dump ? { backupFile: `/home/alice/cutover/backups/production/${dump}` } : {}), at: at() },
  ];
}
function rollback(runId: string, from: string, to: string, dump: string | null = null): HistoryEvent[] {
  return [
    { type: 'started', runId, task: 'rollback', env: 'production', who: 'bob@ops', from, to, at: at() },
    { type: 'finished', runId, task: 'rollback', env: 'production', result: 'deployed', live: to, steps: [], ...(dump ? { backupFile: dump } : {}), at: at() },
  ];
}

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backup-protection-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function manifest(file: string, createdAt: string, o: { runId?: string; toTag?: string; verified?: boolean } = {}): BackupManifest {
  return {
    manifestVersion: 1, file, envName: 'production', database: 'harena', host: 'app1', dbAddress: '127.0.0.1:5432', dbUser: 'harena',
    serverVersion: '15.18', format: 'custom', sizeBytes: 4, sha256: 'a'.repeat(64), durationMs: 10, fromTag: null, toTag: o.toTag ?? 'v0',
    runId: o.runId ?? `run-${file}`, createdAt, rowCounts: {}, verified: o.verified === undefined ? null : { at: createdAt, by: 'pg_restore -f /dev/null', ok: o.verified },
  };
}
/** Dumps named <name>.dump with their manifests, the first one the oldest (a minute apart). */
async function make(specs: { name: string; runId?: string; toTag?: string; verified?: boolean; missing?: boolean }[]): Promise<void> {
  for (const [i, s] of specs.entries()) {
    if (!s.missing) await writeFile(join(dir, `${s.name}.dump`), 'PGDM');
    await writeManifest(join(dir, `${s.name}.json`), manifest(`${s.name}.dump`, new Date(Date.UTC(2026, 2, 1, 9, i)).toISOString(), s));
  }
}
const files = async () => (await readdir(dir)).filter((f) => f.endsWith('.dump')).sort();
const names = (entries: readonly BackupEntry[]) => entries.map((e) => e.manifest.file);
const protectionIn = async (events: HistoryEvent[], restoring: string[] = []) => {
  const entries = await listBackups(dir);
  return protectedDumps({ events, entries, present: await presence(entries), restoring });
};

describe('the dump rollback --restore-db needs survives retention (keep: 5)', () => {
  // deploy v3.2.7 with pre-deploy dump D, then deploys that failed and rolled back, and backups
  // taken since: seven newer dumps, so `keep: 5` alone would delete D
  const history = [
    ...deploy('r1', 'v3.2.5', 'v3.2.6', 'd1.dump'),
    ...deploy('r2', 'v3.2.6', 'v3.2.7', 'D.dump'),
    ...deploy('r3', 'v3.2.7', 'v3.2.8', 'f1.dump', 'rolled-back'),
    ...deploy('r4', 'v3.2.7', 'v3.2.8', 'f2.dump', 'rolled-back'),
    ...deploy('r5', 'v3.2.7', 'v3.2.9', 'f3.dump', 'rolled-back'),
  ];
  const folder = [
    { name: 'd1', verified: true }, { name: 'D', verified: true }, { name: 'f1', verified: true }, { name: 'f2', verified: true },
    { name: 'f3', verified: true }, { name: 'm1', verified: true }, { name: 'm2', verified: true }, { name: 'm3', verified: false },
  ];

  it('protectedDumps names D and d1 (the chain), the newest verified, each with its reason', async () => {
    await make(folder);
    const p = await protectionIn(history);
    expect(Object.fromEntries([...p].map(([k, v]) => [k.slice(dir.length + 1), v]))).toEqual({
      'd1.dump': ['pre-deploy dump of v3.2.6 (run r1): rollback --restore-db can still return to it'],
      'D.dump': ['pre-deploy dump of v3.2.7 (run r2): rollback --restore-db can still return to it'],
      'm2.dump': [NEWEST_VERIFIED],
    });
  });

  it('prune keeps the newest 5 and D and d1; the failed deploys\' dumps go', async () => {
    await make(folder);
    const r = await pruneBackups(dir, 5, { protect: await protectionIn(history) });
    expect(names(r.removed)).toEqual(['f1.dump']);
    expect(names(r.keptForProtection)).toEqual(['D.dump', 'd1.dump']);
    expect(await files()).toEqual(['D.dump', 'd1.dump', 'f2.dump', 'f3.dump', 'm1.dump', 'm2.dump', 'm3.dump'].sort());
    const tight = await pruneBackups(dir, 2, { protect: await protectionIn(history) });
    expect(names(tight.removed)).toEqual(['m1.dump', 'f3.dump', 'f2.dump']);
    expect(await files()).toEqual(['D.dump', 'd1.dump', 'm2.dump', 'm3.dump'].sort());
  });

  it('without a protection given, prune reads the history mirrored beside the backups', async () => {
    await make(folder);
    await writeFile(join(dir, 'history.jsonl'), history.map((e) => JSON.stringify(e)).join('\n') + '\n');
    await pruneBackups(dir, 2);
    expect(await files()).toEqual(['D.dump', 'd1.dump', 'm2.dump', 'm3.dump'].sort());
  });

  it('once rollback has stepped back over v3.2.7, D is no longer needed; d1 is, until rolled back over too', async () => {
    await make(folder);
    const back = [...history, ...rollback('r6', 'v3.2.7', 'v3.2.6')];
    expect([...(await protectionIn(back)).keys()].map((k) => k.slice(dir.length + 1)).sort()).toEqual(['d1.dump', 'm2.dump']);
  });

  it('a dump a run is about to restore is protected, whatever its age', async () => {
    await make(folder);
    const p = await protectionIn([], [join(dir, 'f1.dump')]);
    expect(p.get(join(dir, 'f1.dump'))).toEqual(['a run is about to restore it']);
    await pruneBackups(dir, 1, { protect: p });
    expect(await files()).toEqual(['f1.dump', 'm2.dump', 'm3.dump']);
  });

  it('a history without backupFile finds the dump by its run id and target tag', async () => {
    await make([{ name: 'x', runId: 'r9', toTag: 'v2' }, { name: 'y' }]);
    const events = deploy('r9', 'v1', 'v2', null);
    expect([...(await protectionIn(events)).entries()]).toEqual([[join(dir, 'x.dump'), ['pre-deploy dump of v2 (run r9): rollback --restore-db can still return to it']]]);
  });
});

describe('a manifest whose dump is missing (an orphan)', () => {
  it('is not "the newest verified dump": the newest verified dump that is there is kept instead', async () => {
    await make([{ name: 'real', verified: true }, { name: 'a' }, { name: 'b' }, { name: 'ghost', verified: true, missing: true }]);
    const p = await protectionIn([]);
    expect([...p.keys()]).toEqual([join(dir, 'real.dump')]);
    const r = await pruneBackups(dir, 1, { protect: p });
    expect(names(r.orphans)).toEqual(['ghost.dump']);
    expect(names(r.removed)).toEqual(['a.dump']);
    expect(await files()).toEqual(['b.dump', 'real.dump']);
    expect((await readdir(dir)).filter((f) => f.endsWith('.json')).sort()).toEqual(['b.json', 'real.json']);
  });

  it('takes no place among the newest N; one the chain still names keeps its manifest (list shows it MISSING)', async () => {
    await make([{ name: 'old' }, { name: 'mid' }, { name: 'gone', missing: true }]);
    const entries = await listBackups(dir);
    const present = await presence(entries);
    const sel = pruneSelection(entries, 2, { protect: new Map(), present });
    expect([names(sel.kept), names(sel.removed), names(sel.orphans)]).toEqual([['mid.dump', 'old.dump'], [], ['gone.dump']]);
    const chain = pruneSelection(entries, 2, { protect: new Map([[join(dir, 'gone.dump'), ['pre-deploy dump of v2 (run r): ...']]]), present });
    expect([names(chain.kept), names(chain.orphans), names(chain.keptForProtection)]).toEqual([['gone.dump', 'mid.dump', 'old.dump'], [], ['gone.dump']]);
  });
});
