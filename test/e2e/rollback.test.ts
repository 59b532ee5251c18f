/** rollback, end to end over SSH: default target, refusals, database restore, the releases strategy. */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { APP, startDeployFleet, STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';


describe('rollback (in-place)', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('goes back to the previous tag by default, verified, code only, exit 0', async () => {
    expect((await f.task(['deploy', 'v1.1.0'])).code).toBe(0);
    const r = await f.task(['rollback']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('rollback of sbx to v1.0.0: DONE: back on v1.0.0, verified (exit 0)');
    expect(r.stdout).toContain('database: NOT touched. This is a code-only rollback');
    expect(await tagOn(f)).toBe('v1.0.0');
    // the migration of v1.1.0 stays: a code-only rollback does not undo it, and says so
    expect(await f.psql('select count(*) from schema_migrations')).toBe('2');
    const last = JSON.parse((await f.runner().exec(command(sh`tail -n 1 ${`${STATE}/history.jsonl`}`))).stdout);
    expect(last).toMatchObject({ type: 'finished', task: 'rollback', result: 'deployed', live: 'v1.0.0' });
  });

  it('refuses a tag that never went live here unless --force (exit 2, nothing changed)', async () => {
    const r = await f.task(['rollback', 'v1.3.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('v1.3.0 was never deployed and verified here, nor live before a deploy');
    expect(r.stderr).toContain('--force');
    expect(await tagOn(f)).toBe('v1.0.0');
  });

  it('--restore-db puts the data back as it was before the deploy being undone, after a safety backup', async () => {
    const d = await f.task(['deploy', 'v1.4.0', '--json']);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(await f.psql('select version from schema_migrations order by 1')).toBe('001_create_messages\n002_add_message_channel\n003_add_message_score');
    await f.psql("insert into messages (user_id, body) values (1, 'written after the deploy')");

    const r = await f.task(['rollback', '--restore-db', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain(`REPLACED by`);
    expect(r.json.backup.file).not.toBe(d.json.backup.file); // the safety backup, taken first
    expect(r.json.notes).toContain(`database restored from ${d.json.backup.file}`);
    // the previous live tag was v1.0.0 (the rollback above), and the data as before v1.4.0's deploy
    expect(r.json.tag).toBe('v1.0.0');
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await f.psql('select version from schema_migrations order by 1')).toBe('001_create_messages\n002_add_message_channel');
    expect(await f.psql('select count(*) from messages')).toBe('0');
    // the safety backup holds what the restore replaced
    const safety = JSON.parse(readFileSync(r.json.backup.file.replace(/\.dump$/, '.json'), 'utf8'));
    expect(safety.rowCounts['public.messages']).toBe(1);
  });

  it('needs no git remote for a tag the host has; fetches one it lacks (--dry-run says it would); refuses when that fetch fails, or the remote lacks it too (exit 2, nothing changed)', async () => {
    expect((await f.task(['deploy', 'v1.1.0'])).code).toBe(0);
    renameSync(f.origin, `${f.origin}.down`); // as an unreachable git host: any fetch fails
    try {
      const r = await f.task(['rollback']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('rollback of sbx to v1.0.0: DONE: back on v1.0.0, verified (exit 0)');
      expect(r.stdout).not.toContain('fetched');
      expect(await tagOn(f)).toBe('v1.0.0');

      // v1.1.0 went live here, but its tag is gone from the host's repository
      expect((await f.runner().exec(command(sh`git -C ${APP} tag -d v1.1.0`))).code).toBe(0);
      const lacking = await f.task(['rollback', 'v1.1.0']);
      expect(lacking.code, lacking.stdout + lacking.stderr).toBe(2);
      expect(lacking.stderr).toContain('preflight failed, nothing was changed');
      expect(lacking.stderr).toContain(
        `host1: v1.1.0 is not on the host, and the tags could not be fetched from ${f.origin} (fatal: '${f.origin}' does not appear to be a git repository): bring the remote back, or roll back to a tag the host has`,
      );
      expect(await tagOn(f)).toBe('v1.0.0');
    } finally {
      renameSync(`${f.origin}.down`, f.origin);
    }
    // the remote back: --dry-run says it would fetch; a remote without the tag either refuses (exit 2)
    const dry = await f.task(['rollback', 'v1.1.0', '--dry-run']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`host1: v1.1.0 is not on the host: it would be fetched from ${f.origin}`);
    const tagObject = execFileSync('git', ['-C', f.origin, 'rev-parse', 'refs/tags/v1.1.0'], { encoding: 'utf8' }).trim();
    execFileSync('git', ['-C', f.origin, 'update-ref', '-d', 'refs/tags/v1.1.0']);
    try {
      const nowhere = await f.task(['rollback', 'v1.1.0']);
      expect(nowhere.code, nowhere.stdout + nowhere.stderr).toBe(2);
      expect(nowhere.stderr).toContain(`host1: v1.1.0 is not on the host, nor on ${f.origin} (fetched; \`git -C ${APP} rev-parse --quiet --verify --end-of-options 'refs/tags/v1.1.0^{commit}'\` exited 1)`);
      expect(await tagOn(f)).toBe('v1.0.0');
    } finally {
      execFileSync('git', ['-C', f.origin, 'update-ref', 'refs/tags/v1.1.0', tagObject]);
    }
    // and with the tag on the remote again, it is fetched before the lock, and the rollback goes on
    const fetched = await f.task(['rollback', 'v1.1.0']);
    expect(fetched.code, fetched.stdout + fetched.stderr).toBe(0);
    expect(fetched.stdout).toContain(`host1: v1.1.0 is not on the host: fetched from ${f.origin}`);
    expect(await tagOn(f)).toBe('v1.1.0');
  });
});

describe('the releases strategy', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ strategy: 'releases' });
  });
  afterAll(async () => {
    await f?.stop();
  });

  const current = async () => (await f.runner().exec(command(sh`readlink ${`${APP}/current`}`))).stdout.trim();

  it('deploys into a new release folder and switches current; a failure switches back', async () => {
    const r = await f.task(['deploy', 'v1.1.0']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await current()).toMatch(/^releases\/\d{8}T\d{6}Z_v1\.1\.0$/);
    expect(await tagOn(f, undefined, `${APP}/current`)).toBe('v1.1.0');

    const bad = await f.task(['deploy', 'v1.2.0']);
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    expect(await current()).toMatch(/_v1\.1\.0$/);
  });

  it('rollback switches current back to the old release folder without reinstalling, and without the git remote', async () => {
    renameSync(f.origin, `${f.origin}.down`); // as an unreachable git host: the release folder is all a rollback needs
    let r: Awaited<ReturnType<DeployFleet['task']>>;
    try {
      r = await f.task(['rollback', 'v1.0.0']);
    } finally {
      renameSync(`${f.origin}.down`, f.origin);
    }
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await current()).toBe('releases/20260101T000000Z_v1.0.0');
    expect(r.stdout).not.toContain('fetched');
    expect(r.stdout).toContain('reusing release 20260101T000000Z_v1.0.0 (no reinstall)');
    expect(r.stdout).not.toContain('install: demo-chat');
  });

  it('after a verified deploy, release folders beyond keepReleases are removed, oldest first, never current', async () => {
    const folders = async () => (await f.runner().exec(command(sh`ls -1 ${`${APP}/releases`}`))).stdout.split('\n').filter(Boolean);
    const before = await folders(); // v1.0.0 (current), v1.1.0, v1.2.0 (the failed deploy's)
    expect(before).toHaveLength(3);
    f.editEnv((t) => t.replace("strategy: \"releases\",", "strategy: \"releases\", keepReleases: 2,"));
    const r = await f.task(['deploy', 'v1.4.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const after = await folders();
    expect(after).toEqual([before[2]!, (await current()).replace('releases/', '')]);
    expect(after[1]).toMatch(/_v1\.4\.0$/);
    expect(r.stderr).toMatch(/removed 20260101T000000Z_v1\.0\.0, \d{8}T\d{6}Z_v1\.1\.0/); // progress goes to stderr with --json
    const worktrees = await f.runner().exec(command(sh`git -C ${`${APP}/repo`} worktree list --porcelain`));
    expect(worktrees.stdout.match(/^worktree .*\/releases\//gm)).toHaveLength(2);
  });
});
