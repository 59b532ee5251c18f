/**
 * backup list/create/verify/prune and restore, end to end: the entry points run as processes
 * against a sandbox host (real sshd), the test run's PostgreSQL, and a webhook receiver on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { command, quote, sh } from '../../tasks/lib/commands/shell.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { acquireLock, newLockRecord, releaseLock } from '../../tasks/lib/state/lock.ts';
import { dataState } from '../../tasks/lib/restore/outcome.ts';
import { startDeployFleet, STATE, type DeployFleet } from '../support/deploy-fleet.ts';
import { signalTask } from '../support/processes.ts';

const hook: { server?: Server; bodies: { text: string }[] } = { bodies: [] };
let f: DeployFleet;

const manifestOf = (dump: string) => JSON.parse(readFileSync(dump.replace(/\.(dump|sql)$/, '.json'), 'utf8'));
const dumps = () => readdirSync(f.backupDir).filter((n) => n.endsWith('.dump')).sort();
const hostFile = async (p: string) => {
  const r = await f.runner().exec(command(sh`cat ${p} 2>/dev/null || true`));
  return r.stdout;
};
const history = async () => (await hostFile(`${STATE}/history.jsonl`)).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const counts = async () => ({ messages: Number(await f.psql('select count(*) from messages')), migrations: Number(await f.psql('select count(*) from schema_migrations')) });

/** Flips one byte in the middle: same size, another sha256. */
function corrupt(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    const at = Math.floor(readFileSync(file).length / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    writeSync(fd, Buffer.from([b[0]! ^ 0xff]), 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** A copy of a backup under another name and creation time (its manifest says so): more backups without more dumps. */
function cloneBackup(dump: string, name: string, createdAt: string, verified: 'ok' | 'failed' | null): string {
  const target = path.join(f.backupDir, `${name}.dump`);
  copyFileSync(dump, target);
  const m = manifestOf(dump);
  const v = verified === null ? null : { at: createdAt, by: 'pg_restore -f /dev/null', ok: verified === 'ok', ...(verified === 'ok' ? {} : { problems: ['x'] }) };
  writeFileSync(path.join(f.backupDir, `${name}.json`), JSON.stringify({ ...m, file: `${name}.dump`, createdAt, verified: v }));
  return target;
}

/** The restore entry point on a terminal (a pty from `script`): types `answer` when asked. */
function onTerminal(args: string[], answer: string): Promise<{ code: number | null; out: string }> {
  const line = [path.join(REPO_ROOT, 'node_modules/.bin/tsx'), path.join(REPO_ROOT, 'tasks/restore.ts'), ...args, '--env', f.envName].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], {
      cwd: f.dir,
      env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'not-needed-trust-auth', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let typed = false;
    const read = (d: Buffer) => {
      out += d.toString();
      if (!typed && out.includes('to replace it (anything else stops here, nothing changed): ')) {
        typed = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    // readline on a terminal moves the cursor (ESC [ N G) before echoing what was typed
    child.on('close', (code) => resolve({ code, out: out.replace(/\r\n/g, '\n').replace(/\x1b\[\d*[GJK]/g, '') }));
  });
}

beforeAll(async () => {
  hook.server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      hook.bodies.push(JSON.parse(data));
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.server!.listen(0, '127.0.0.1', resolve));
  process.env.SBX_WEBHOOK_URL = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hooks/restore-test`;
  f = await startDeployFleet({ extra: "notifications: { webhook: { env: 'SBX_WEBHOOK_URL' }, events: ['start', 'success', 'rollback', 'attention'] }," });
});
afterAll(async () => {
  await f?.stop();
  hook.server?.closeAllConnections();
  hook.server?.close();
});

describe('backup', () => {
  it('list with no backups; bad input is refused with exit 2', async () => {
    const [empty, json, bad, extra, all] = await Promise.all([
      f.task(['backup', 'list']),
      f.task(['backup', 'list', '--json']),
      f.task(['backup', 'restore']),
      f.task(['backup', 'prune', 'x.dump']),
      f.task(['backup', 'prune', '--all']),
    ]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe(`No backups of sbx in ${f.backupDir}. Take one: npx tsx tasks/backup.ts create --env sbx\n`);
    expect(json.json).toEqual({ action: 'list', env: 'sbx', dir: f.backupDir, keep: 3, history: { ok: true, where: `host1:${STATE}/history.jsonl` }, backups: [] });
    expect([bad.code, extra.code, all.code]).toEqual([2, 2, 2]);
    expect(bad.stderr).toBe('cutover: unknown action "restore": use one of list, create, verify, prune. See: npx tsx tasks/backup.ts --help\n');
    expect(extra.stderr).toBe('cutover: prune takes no backup argument (got "x.dump")\n');
    expect(all.stderr).toBe('cutover: --all is for verify only\n');
  });
});

describe('backup create, list, verify, prune', () => {
  let manual = '';
  let deployed = '';
  let latest = '';

  it('create before any deploy: no live tag, so fromTag none and toTag "manual"; verified', async () => {
    const r = await f.task(['backup', 'create', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    manual = r.json.dumpPath;
    expect(path.basename(manual)).toMatch(/^\d{8}T\d{6}Z_none_to_manual\.dump$/);
    expect(r.json.manifest).toMatchObject({ envName: 'sbx', database: f.database, host: 'host1', fromTag: null, toTag: 'manual', runId: r.json.runId, rowCounts: { 'public.messages': 0, 'public.schema_migrations': 1 } });
    expect(r.json.manifest.verified).toMatchObject({ by: 'pg_restore -f /dev/null', ok: true });
    expect(r.stderr).toContain('with pg_dump on host1; live tag: (none recorded)\n');
    expect(r.stderr).toContain(`backup of sbx: BACKUP TAKEN AND VERIFIED (exit 0), run ${r.json.runId}\n  ${path.relative(f.dir, manual)}: `);
    expect((await history()).slice(-2)).toMatchObject([{ type: 'started', task: 'backup' }, { type: 'finished', task: 'backup', result: 'deployed', live: null, backupFile: manual }]);
  });

  it('create after a deploy records the live tag; list shows newest first with size, age, tags, rows, last verified', async () => {
    const d = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    deployed = d.json.backup.file;
    const c = await f.task(['backup', 'create', '--json']);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    latest = c.json.dumpPath;
    expect(path.basename(latest)).toMatch(/^\d{8}T\d{6}Z_v1\.1\.0_to_v1\.1\.0(-2)?\.dump$/);
    expect(c.json.manifest).toMatchObject({ fromTag: 'v1.1.0', toTag: 'v1.1.0', rowCounts: { 'public.messages': 0, 'public.schema_migrations': 2 } });

    const [text, json] = await Promise.all([f.task(['backup', 'list']), f.task(['backup', 'list', '--json'])]);
    expect(json.json.backups.map((b: { dumpPath: string }) => b.dumpPath)).toEqual([latest, deployed, manual]);
    const first = json.json.backups[0];
    expect(first).toMatchObject({ file: path.basename(latest), sizeBytes: manifestOf(latest).sizeBytes, fromTag: 'v1.1.0', toTag: 'v1.1.0', tables: 2, rows: 2, present: true, protected: true });
    expect(first.verified).toMatchObject({ ok: true, at: manifestOf(latest).verified.at });
    expect(first.ageMs).toBeGreaterThanOrEqual(0);
    expect(first.ageMs).toBeLessThan(60_000);
    // the newest verified one, and the dump taken before v1.1.0 went live: rollback --restore-db restores it
    expect(json.json.backups.map((b: { protected: boolean }) => b.protected)).toEqual([true, true, false]);
    const runId = (await history()).find((e) => e.type === 'finished' && e.live === 'v1.1.0').runId;
    const lines = text.stdout.split('\n');
    expect(lines[0]).toBe(`Backups of sbx in ${f.backupDir}: 3, newest first (keep: 3)`);
    expect(lines[1]).toMatch(/^ {2}FILE +SIZE +AGE +TAGS +ROWS +VERIFIED$/);
    expect(lines[2]).toMatch(new RegExp(`^  ${path.basename(latest)} \\* +4 KiB +\\d+s +v1\\.1\\.0 -> v1\\.1\\.0 +2 in 2 tables +ok, \\d+s ago$`));
    expect(lines[3]).toMatch(new RegExp(`^  ${path.basename(deployed)} \\* +4 KiB +\\d+s +v1\\.0\\.0 -> v1\\.1\\.0 +`));
    expect(lines[4]).toMatch(new RegExp(`^  ${path.basename(manual)} +4 KiB +\\d+s +\\(none\\) -> manual +1 in 2 tables +ok, \\d+s ago$`));
    expect(lines.slice(5, 8)).toEqual([
      '  * protected, prune never removes them:',
      `    ${path.basename(latest)}: the newest verified dump: one dump known to restore is always kept`,
      `    ${path.basename(deployed)}: pre-deploy dump of v1.1.0 (run ${runId}): rollback --restore-db can still return to it`,
    ]);
  });

  it('verify reads every dump again and records it; a corrupted one fails (exit 1) and its manifest says so', async () => {
    const before = manifestOf(manual).verified.at;
    const all = await f.task(['backup', 'verify', '--all', '--json']);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.json.results.map((r: { file: string; ok: boolean }) => [r.file, r.ok])).toEqual([latest, deployed, manual].map((p) => [path.basename(p), true]));
    expect(manifestOf(manual).verified.at > before).toBe(true);
    expect(all.stderr).toContain(`ok      ${path.basename(manual)}: 4 KiB read completely in`);

    const sha = manifestOf(manual).sha256;
    corrupt(manual);
    const bad = await f.task(['backup', 'verify', path.basename(manual)]);
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toContain(`FAILED  ${path.basename(manual)}:\n          sha256 of ${manual} is `);
    expect(bad.stdout).toContain('1 of 1 backup(s) FAILED verification');
    // the checksum first; pg_restore may or may not also trip over the flipped byte
    expect(manifestOf(manual).verified).toMatchObject({ ok: false, by: 'pg_restore -f /dev/null' });
    expect(manifestOf(manual).verified.problems[0]).toMatch(new RegExp(`^sha256 of ${manual} is [0-9a-f]{64}, the manifest says ${sha}$`));

    const missing = await f.task(['backup', 'verify', 'nope.dump']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `cutover: nope.dump: no backup with a manifest there (a .dump or .sql file with its .json beside it). Newest in ${f.backupDir}: ${[latest, deployed, manual].map((p) => path.basename(p)).join(', ')}. List them: npx tsx tasks/backup.ts list --env sbx\n`,
    );
  });

  it('prune keeps backups.keep (3) newest and every protected dump (the newest verified, the one rollback --restore-db needs); --dry-run removes nothing', async () => {
    // newest first: three unverified clones dated 2030, then latest (verified), deployed (before v1.1.0), manual (FAILED), two old clones
    const n = [1, 2, 3].map((d) => cloneBackup(latest, `2030010${d}T000000Z_v1.1.0_to_v9.9.${d}`, `2030-01-0${d}T00:00:00.000Z`, null));
    const oldVerified = cloneBackup(latest, '20200101T000000Z_old_to_verified', '2020-01-01T00:00:00.000Z', 'ok');
    const oldUnverified = cloneBackup(latest, '20200102T000000Z_old_to_unverified', '2020-01-02T00:00:00.000Z', null);
    // a manifest whose dump is gone: it is not "the newest verified", and prune removes it
    const ghost = cloneBackup(latest, '20300201T000000Z_v1.1.0_to_ghost', '2030-02-01T00:00:00.000Z', 'ok');
    rmSync(ghost);
    const base = (p: string) => path.basename(p);
    const expectedKept = [n[2]!, n[1]!, n[0]!, latest, deployed].map(base);
    const expectedRemoved = [manual, oldUnverified, oldVerified].map(base);
    const runId = (await history()).find((e) => e.type === 'finished' && e.live === 'v1.1.0').runId;
    const chain = `pre-deploy dump of v1.1.0 (run ${runId}): rollback --restore-db can still return to it`;

    const dry = await f.task(['backup', 'prune', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json).toEqual({
      action: 'prune', env: 'sbx', dryRun: true, keep: 3, removed: expectedRemoved, kept: expectedKept, orphans: [base(ghost)],
      protected: { [base(latest)]: ['the newest verified dump: one dump known to restore is always kept'], [base(deployed)]: [chain] },
      newestVerified: base(latest), partials: [],
    });
    expect(dumps()).toHaveLength(8);

    const r = await f.task(['backup', 'prune']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('keep 3 newest and every protected dump: removed 3, kept 5\n');
    expect(r.stdout).toContain(`  removed the manifest ${base(ghost).replace('.dump', '.json')}: its dump ${base(ghost)} is missing\n`);
    expect(r.stdout).toContain(`  kept ${base(latest)}: the newest verified dump: one dump known to restore is always kept\n`);
    expect(r.stdout).toContain(`  kept ${base(deployed)}: ${chain}\n`);
    expect(dumps()).toEqual([...expectedKept].sort());
    expect(readdirSync(f.backupDir).filter((x) => /^\d{8}T\d{6}Z_.*\.json$/.test(x)).sort()).toEqual(expectedKept.map((k) => k.replace('.dump', '.json')).sort());
    for (const p of n) for (const ext of ['.dump', '.json']) rmSync(p.replace('.dump', ext)); // the 2030 clones would sort first from here on
  });

  it('prune refuses (exit 2, nothing removed) when the history cannot be read; list still lists, and says so', async () => {
    const hidden = `${STATE}.hidden`;
    // a history that cannot be read: a folder where the file should be (root reads any mode)
    await f.runner().exec(command(sh`mv ${STATE} ${hidden} && mkdir -p ${`${STATE}/history.jsonl`}`));
    try {
      const before = dumps();
      const p = await f.task(['backup', 'prune']);
      expect(p.code).toBe(2);
      expect(p.stderr).toMatch(new RegExp(`^cutover: cannot read the history on host1:${STATE}/history\\.jsonl \\(.+\\): without it prune cannot know which dumps rollback --restore-db still needs\\. Nothing was removed\\.\n$`));
      expect(dumps()).toEqual(before);
      const l = await f.task(['backup', 'list']);
      expect(l.code).toBe(0);
      expect(l.stdout).toContain(`  the history on host1:${STATE}/history.jsonl could not be read (`);
    } finally {
      await f.runner().exec(command(sh`rm -r ${STATE} && mv ${hidden} ${STATE}`));
    }
  });
});

describe('restore', () => {
  let source = '';
  let sourceCounts: Record<string, number> = {};

  it('round trip: rows written after a backup are gone, the counts equal the manifest, a safety backup holds them; lock, history, report, notifications', async () => {
    const c = await f.task(['backup', 'create', '--json']);
    expect(c.code, c.stderr).toBe(0);
    source = c.json.dumpPath;
    sourceCounts = c.json.manifest.rowCounts;
    await f.psql("insert into messages (user_id, body) values (1, 'a'), (1, 'b'), (2, 'written after the backup')");
    hook.bodies = [];
    const before = await history();

    const r = await f.task(['restore', path.basename(source), '--yes', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ task: 'restore', env: 'sbx', outcome: 'restored', exitCode: 0, dataState: 'as-backup', mismatches: [], database: { name: f.database, restoreOn: 'host1' } });
    expect(r.json.rowCounts.after).toEqual(sourceCounts);
    expect(r.json.rowCounts.before['public.messages']).toBe(3);
    expect(await counts()).toEqual({ messages: 0, migrations: 2 });
    // the plan said what would be replaced, with the row counts side by side
    expect(r.stderr).toContain(`the database ${f.database} on 127.0.0.1:`);
    expect(r.stderr).toMatch(/public\.messages +0 +3 +\(-3\)\n/);
    expect(r.stderr).toContain(`restore of sbx: DONE: ${f.database} restored from ${path.basename(source)}; the row counts of its 2 tables equal the backup's (exit 0)`);
    // the safety backup has what the restore replaced
    const safety = manifestOf(r.json.safetyBackup.file);
    expect(safety.rowCounts['public.messages']).toBe(3);
    expect(safety.verified.ok).toBe(true);
    // history: started and finished, task restore; the lock is free again
    const added = (await history()).slice(before.length);
    expect(added).toMatchObject([
      { type: 'started', task: 'restore', runId: r.json.runId, from: 'v1.1.0', to: 'v1.1.0', backupFile: source },
      { type: 'finished', task: 'restore', runId: r.json.runId, result: 'deployed', live: null, backupFile: r.json.safetyBackup.file, steps: [{ name: 'safety backup', ok: true }, { name: 'restore', ok: true }] },
    ]);
    expect(await hostFile(`${STATE}/lock.json`)).toBe('');
    // the report: JSON and Markdown, with the row counts as checks
    expect(path.basename(r.json.report.mdPath)).toBe(`${r.json.runId.slice(0, 16)}_restore_${r.json.runId}.md`);
    const md = readFileSync(r.json.report.mdPath, 'utf8');
    expect(md).toContain(`# restore of sbx (${f.database}) from ${path.basename(source)}: restored\n`);
    expect(md).toContain(`| ${f.database} | rows public.messages | 0 | = 0 (backup) | ✅ ok | equal to the backup |\n`);
    expect(md).toContain(`## Backup\n\n- File: \`${source}\`\n`);
    expect(JSON.parse(readFileSync(r.json.report.jsonPath, 'utf8'))).toMatchObject({ kind: 'restore', verdict: 'restored', env: 'sbx', runId: r.json.runId });
    // notifications: start and success, nothing secret in them
    expect(hook.bodies.map((b) => b.text.split('\n')[0])).toEqual([
      `:rocket: restore of sbx: ${f.database} from ${path.basename(source)}`,
      ':white_check_mark: restore of sbx: restored',
    ]);
    for (const text of [r.stdout, r.stderr, md, JSON.stringify(hook.bodies)]) {
      expect(text).not.toContain('not-needed-trust-auth');
      expect(text).not.toContain(process.env.SBX_WEBHOOK_URL);
    }
  });

  it('refuses before anything changes: no terminal and no --yes, a corrupted dump, another environment\'s backup, a held lock (exit 2)', async () => {
    const bad = cloneBackup(source, '20261231T000000Z_corrupt_to_copy', '2001-01-01T00:00:00.000Z', 'ok');
    corrupt(bad);
    const foreign = cloneBackup(source, '20261231T000000Z_foreign_to_copy', '2001-01-01T00:00:00.000Z', 'ok');
    writeFileSync(foreign.replace('.dump', '.json'), JSON.stringify({ ...manifestOf(foreign), envName: 'production' }));
    await f.psql("insert into messages (user_id, body) values (1, 'still here')");
    const files = dumps();
    const events = (await history()).length;
    hook.bodies = [];
    const held = newLockRecord({ runId: 'someone-else', env: 'sbx', tag: 'v1.1.0', task: 'deploy' });
    expect((await acquireLock(f.runner(), STATE, held)).ok).toBe(true);
    try {
      const [noTty, corrupted, other, locked] = await Promise.all([
        f.task(['restore', path.basename(source)]),
        f.task(['restore', bad, '--yes']),
        f.task(['restore', foreign, '--yes']),
        f.task(['restore', path.basename(source), '--yes']),
      ]);
      expect([noTty.code, corrupted.code, other.code, locked.code]).toEqual([2, 2, 2, 2]);
      expect(noTty.stderr).toBe('cutover: restore replaces a database and asks you to type its name, but there is no terminal to ask in: run it in a terminal, or pass --yes. Nothing was changed.\n');
      expect(corrupted.stderr).toContain(`cutover: ${bad} cannot be restored: sha256 of ${bad} is `);
      expect(corrupted.stderr).toContain('. Nothing was changed.\n');
      expect(other.stderr).toBe(`cutover: ${path.basename(foreign)} is a backup of environment production, not sbx: a restore never crosses environments. Nothing was changed.\n`);
      expect(locked.stderr).toContain(`The deploy lock (host1:${STATE}/lock.json) is held by `);
      expect(locked.stderr).toContain('(run someone-else: deploy v1.1.0 to sbx');
    } finally {
      await releaseLock(f.runner(), STATE, 'someone-else');
    }
    expect(dumps()).toEqual(files); // no safety backup either
    expect((await history()).length).toBe(events);
    expect(hook.bodies).toEqual([]);
    expect(await counts()).toEqual({ messages: 1, migrations: 2 });
    for (const p of [bad, foreign]) for (const ext of ['.dump', '.json']) rmSync(p.replace('.dump', ext));
  });

  it('on a terminal it asks for the database name: anything else stops (exit 2, nothing changed), the name goes ahead', async () => {
    await f.psql("insert into messages (user_id, body) values (4, 'typed')");
    const before = await counts();
    const events = (await history()).length;
    const no = await onTerminal([path.basename(source)], 'production');
    expect(no.code, no.out).toBe(2);
    expect(no.out).toContain(`Type the database name "${f.database}" to replace it (anything else stops here, nothing changed): production`);
    expect(no.out).toContain('cutover: confirmation not given (typed "production"); nothing was changed.');
    expect(await counts()).toEqual(before);
    expect((await history()).length).toBe(events);
    const yes = await onTerminal([path.basename(source)], f.database);
    expect(yes.code, yes.out).toBe(0);
    expect(yes.out).toContain(`restore of sbx: DONE: ${f.database} restored from ${path.basename(source)}`);
    expect(await counts()).toEqual({ ...before, messages: sourceCounts['public.messages'] });
  });

  it('a restore that fails inside its transaction leaves the database as it was, checked against the safety backup (exit 1)', async () => {
    // a view elsewhere depends on messages: pg_restore --clean cannot drop it, and the transaction rolls back
    await f.psql("insert into messages (user_id, body) values (5, 'not in the backup')");
    const before = await counts();
    await f.psql('create schema blocker; create view blocker.recent as select * from public.messages');
    hook.bodies = [];
    try {
      const r = await f.task(['restore', source, '--yes', '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.json).toMatchObject({ outcome: 'failed-unchanged', exitCode: 1, dataState: 'as-before' });
      expect(r.json.error).toContain('cannot drop table public.messages because other objects depend on it');
      expect(r.json.rowCounts.after).toEqual(r.json.rowCounts.before);
      expect(r.stderr).toContain(`restore of sbx: FAILED: the restore did not complete, and ${f.database} was left as it was (one transaction, rolled back): its row counts equal the safety backup's (exit 1)`);
      expect(await counts()).toEqual(before);
      expect((await history()).at(-1)).toMatchObject({ type: 'finished', task: 'restore', result: 'rolled-back', live: null });
      expect(await hostFile(`${STATE}/lock.json`)).toBe('');
      expect(hook.bodies.map((b) => b.text.split('\n')[0])).toEqual([`:rocket: restore of sbx: ${f.database} from ${path.basename(source)}`, ':leftwards_arrow_with_hook: restore of sbx: failed, database unchanged']);
    } finally {
      await f.psql('drop schema blocker cascade');
    }
  });

  it('restored, but the counts differ from the manifest: exit 3, naming the safety backup and how to put it back', async () => {
    const lying = cloneBackup(source, '20261231T000000Z_lying_to_counts', '2001-01-01T00:00:00.000Z', 'ok');
    writeFileSync(lying.replace('.dump', '.json'), JSON.stringify({ ...manifestOf(lying), rowCounts: { ...sourceCounts, 'public.messages': 5 } }));
    const before = await counts();
    const r = await f.task(['restore', lying, '--yes', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json).toMatchObject({ outcome: 'counts-differ', exitCode: 3, mismatches: ['public.messages: 5 in the backup, 0 now'] });
    const safety = path.relative(f.dir, r.json.safetyBackup.file);
    expect(r.stderr).toContain(`  what to do: check ${f.database} (who is writing to it?); the data as it was before the restore is in the safety backup ${safety}; to put it back: npx tsx tasks/restore.ts ${safety} --env sbx\n`);
    expect((await history()).at(-1)).toMatchObject({ type: 'finished', task: 'restore', result: 'needs-attention' });
    // and that command does put it back
    const back = await f.task(['restore', safety, '--yes']);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(await counts()).toEqual(before);
    for (const ext of ['.dump', '.json']) rmSync(lying.replace('.dump', ext), { force: true }); // the restore that put it back pruned it (keep: 3)
  });
});

describe('dataState (which state the counts after a failed restore match)', () => {
  const before = { 'public.a': 3, 'public.b': 1 };
  const backup = { 'public.a': 0, 'public.b': 1 };
  it('before, backup, neither, unknown', () => {
    expect(dataState({ 'public.a': 3, 'public.b': 1 }, before, backup)).toBe('as-before');
    expect(dataState({ 'public.a': 0, 'public.b': 1 }, before, backup)).toBe('as-backup');
    expect(dataState({ 'public.a': 1, 'public.b': 1 }, before, backup)).toBe('unknown');
    expect(dataState({ 'public.a': 3 }, before, backup)).toBe('unknown');
    expect(dataState(null, before, backup)).toBe('unknown');
    expect(dataState(before, before, before)).toBe('as-before');
  });
});

describe('restore interrupted', () => {
  it('Ctrl-C while pg_restore waits: exit 130, the lock released, the interruption recorded, the database state checked and said', async () => {
    const pgInfo = inject('pg');
    const c = await f.task(['backup', 'create', '--json']);
    expect(c.code, c.stderr).toBe(0);
    await f.psql("insert into messages (user_id, body) values (3, 'before the interrupted restore')");
    const expected = await counts();
    // another session holds a lock on messages until told to commit: pg_restore's DROP TABLE waits for it,
    // so the restore is in flight when Ctrl-C comes, whatever the machine's speed
    const holder = spawn('psql', ['-X', '-q', '-h', pgInfo.host, '-p', String(pgInfo.port), '-U', pgInfo.user, '-d', f.database], { stdio: ['pipe', 'pipe', 'inherit'] });
    const held = new Promise((resolve) => holder.on('close', resolve));
    await new Promise<void>((resolve) => {
      holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
      holder.stdin!.write("begin; lock table messages in access share mode; select 'locked';\n");
    });
    let sent = false;
    let released = false;
    const r = await f.task(['restore', c.json.dumpPath, '--yes', '--json'], {
      onOutput: (child, out) => {
        if (!sent && /restoring \S+ from \S+ in one transaction/.test(out)) {
          sent = signalTask(child.pid!, 'SIGINT');
        }
        if (!released && out.includes('waiting for it to end')) {
          released = true;
          holder.stdin!.end('commit;\n');
        }
      },
    });
    if (!released) holder.stdin!.end('commit;\n');
    await held;
    expect(sent).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping, cleaning up');
    // the transaction is not cut off (a killed runner would leave pg_restore to commit unseen): it is waited for
    expect(r.stderr).toContain(`the restore is one transaction: waiting for it to end, so the state of ${f.database} is known`);
    expect(r.json).toMatchObject({ outcome: 'interrupted', exitCode: 130, dataState: 'as-backup' });
    expect(r.json.rowCounts.after).toEqual(c.json.manifest.rowCounts);
    expect(r.stderr).toContain(`restore of sbx: INTERRUPTED, but the restore had completed: ${f.database} holds the data of ${path.basename(c.json.dumpPath)} (row counts equal) (exit 130)`);
    expect(await counts()).toEqual({ ...expected, messages: expected.messages - 1 }); // the row inserted after the backup is gone
    expect(await hostFile(`${STATE}/lock.json`)).toBe('');
    expect((await history()).at(-1)).toMatchObject({ type: 'finished', task: 'restore', result: 'interrupted', live: null });
  });
});
