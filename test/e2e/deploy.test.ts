/**
 * deploy and its automatic rollback, end to end: the entry point runs as a process against a
 * sandbox host over real SSH, with a real git origin, PostgreSQL and the demo service.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { APP, hostHistory, startDeployFleet, STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';



describe('deploy over SSH: one host, a sequence of releases', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('a good tag: on the tag, restarted and verified, backup verifiable, migration applied, history recorded, exit 0', async () => {
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ outcome: 'deployed', exitCode: 0, tag: 'v1.1.0', hosts: [{ name: 'host1', from: 'v1.0.0', stage: 'verified' }] });
    expect(await tagOn(f)).toBe('v1.1.0');
    expect(r.json.hosts[0].checks.map((c: { name: string; ok: boolean }) => `${c.name}:${c.ok}`).sort()).toEqual(['chat:true', 'health:true', 'journal:true', 'readiness:true', 'service:true']);
    // the service really runs the new code
    const health = await (await fetch(`http://${f.fleet.hosts[0]!.address}:${f.appPort}/api/v1/health`)).json();
    expect(health).toMatchObject({ status: 'healthy', version: 'v1.1.0' });
    // the migration of v1.1.0 ran
    expect(await f.psql('select version from schema_migrations order by 1')).toBe('001_create_messages\n002_add_message_channel');
    // the backup: custom format, 0600, manifest, readable to the end
    const dump = r.json.backup.file as string;
    expect(path.dirname(dump)).toBe(f.backupDir);
    expect(path.basename(dump)).toMatch(/^\d{8}T\d{6}Z_v1\.0\.0_to_v1\.1\.0\.dump$/);
    expect(statSync(dump).mode & 0o777).toBe(0o600);
    execFileSync('pg_restore', ['-f', '/dev/null', dump]);
    const manifest = JSON.parse(readFileSync(dump.replace(/\.dump$/, '.json'), 'utf8'));
    expect(manifest).toMatchObject({ database: f.database, fromTag: 'v1.0.0', toTag: 'v1.1.0', sha256: r.json.backup.sha256 });
    expect(execFileSync('sha256sum', [dump], { encoding: 'utf8' }).split(' ')[0]).toBe(manifest.sha256);
    // history on the host, mirrored here, with the step durations
    const events = await hostHistory(f);
    expect(events.map((e) => `${e.type}:${e.runId === r.json.runId}`)).toEqual(['started:true', 'finished:true']);
    expect(events[1]).toMatchObject({ result: 'deployed', live: 'v1.1.0', backupFile: dump });
    const steps = (events[1]!.steps as Array<{ name: string }>).map((s) => s.name);
    for (const s of ['backup', 'prepare', 'checkout', 'install', 'migrate', 'restart', 'verify']) expect(steps).toContain(s);
    expect(readFileSync(path.join(f.backupDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['started', 'finished']);
    // the lock is gone; the password never shows
    expect((await f.runner().exec(command(sh`test -e ${`${STATE}/lock.json`}`))).code).toBe(1);
    expect(r.stdout + r.stderr + readFileSync(path.join(f.backupDir, 'history.jsonl'), 'utf8')).not.toContain('not-needed-trust-auth');
  });

  for (const [tag, what, expectInDetail] of [
    ['v1.2.0', 'health fails (503)', /last status 503, expected 200/],
    ['v1.3.0', 'crashes at start', /demo-chat is (failed|inactive) after the restart|connection refused/],
    ['v1.3.1', 'logs errors to the journal', /Traceback|priority err/],
  ] as const) {
    it(`a tag whose ${what} is rolled back automatically to the previous tag and verified: exit 1`, async () => {
      const r = await f.task(['deploy', tag, '--json']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.json, r.stderr).toMatchObject({ outcome: 'rolled-back', exitCode: 1, hosts: [{ name: 'host1', from: 'v1.1.0', stage: 'rolled-back' }] });
      // the restart step (systemd says failed) or the verification (probes) names the cause
      const failed = (r.json.hosts[0].checks as Array<{ name: string; ok: boolean; detail: string }>).filter((c) => !c.ok);
      expect([r.json.error, ...failed.map((c) => c.detail)].join('\n')).toMatch(expectInDetail);
      expect((r.json.hosts[0].rollbackChecks as Array<{ ok: boolean }>).every((c) => c.ok), r.stderr).toBe(true);
      expect(await tagOn(f)).toBe('v1.1.0');
      const health = await (await fetch(`http://${f.fleet.hosts[0]!.address}:${f.appPort}/api/v1/health`)).json();
      expect(health.version).toBe('v1.1.0');
      // with --json the human summary goes to stderr, the JSON alone to stdout
      expect(r.stderr).toContain(`FAILED, rolled back, and the rollback was verified (exit 1)`);
      expect(r.stderr).toContain('were NOT undone');
      const last = (await hostHistory(f)).at(-1)!;
      expect(last).toMatchObject({ type: 'finished', result: 'rolled-back', live: 'v1.1.0' });
      if (tag === 'v1.3.0') {
        // a crash is seen by systemd, not only at the health timeout (said by what caught it, not by a clock: the machine may be busy)
        expect(r.json.error).toMatch(/demo-chat is (failed|inactive) after the restart/);
        expect([r.json.error, ...failed.map((c) => c.detail)].join('\n')).not.toMatch(/not healthy after/);
      }
    });
  }

  it('--dry-run prints the plan and every command, changes nothing, exit 0', async () => {
    const before = await hostHistory(f);
    const dumps = readdirSync(f.backupDir).length;
    const r = await f.task(['deploy', 'v1.4.0', '--dry-run']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Plan: deploy v1.4.0 to sbx');
    expect(r.stdout).toContain('host1 (');
    expect(r.stdout).toContain('v1.1.0 -> v1.4.0');
    expect(r.stdout).toContain(`[host1] git -C ${APP} -c advice.detachedHead=false checkout --quiet --detach 'refs/tags/v1.4.0^{commit}'`);
    expect(r.stdout).toContain('[host1] sudo -n systemctl restart -- demo-chat');
    expect(r.stdout).toMatch(/\[host1\] IFS= read -r PGPASSWORD && export PGPASSWORD && IFS= read -r snapshot && pg_dump .*--snapshot="\$snapshot" /);
    expect(r.stdout).not.toContain('not-needed-trust-auth');
    expect(await tagOn(f)).toBe('v1.1.0');
    expect(await hostHistory(f)).toEqual(before);
    expect(readdirSync(f.backupDir).length).toBe(dumps);
  });

  it('refuses a bad tag and an unknown tag before changing anything (exit 2)', async () => {
    const bad = await f.task(['deploy', 'v1..2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('tag "v1..2" is not a valid git ref name');
    const unknown = await f.task(['deploy', 'v9.9.9']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('host1: tag v9.9.9 does not exist on the remote');
    expect(await tagOn(f)).toBe('v1.1.0');
  });
});
