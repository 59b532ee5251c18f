/** status as a process: what is deployed where after deploys and a rollback. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { whoAmI } from '../../tasks/lib/state/lock.ts';
import { startDeployFleet, STATE, type DeployFleet } from '../support/deploy-fleet.ts';


describe('status (releases strategy)', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ strategy: 'releases' });
    // two deploys, then a rollback to the tag before
    for (const [args, code] of [[['deploy', 'v1.1.0'], 0], [['deploy', 'v1.4.0'], 0], [['rollback'], 0]] as const) {
      const r = await f.task([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(code);
    }
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('--json: the deployments newest first, live and rollback tags, releases, services, health, lock, newest backup', async () => {
    const r = await f.task(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = r.json;
    const who = whoAmI();
    expect(
      s.deployments.map((d: Record<string, unknown>) => [d.task, d.who, d.from, d.to, d.result, d.live, typeof d.backup === 'string' ? (d.backup as string).replace(/^\d{8}T\d{6}Z_/, '') : d.backup]),
    ).toEqual([
      ['rollback', who, 'v1.4.0', 'v1.1.0', 'deployed', 'v1.1.0', null],
      ['deploy', who, 'v1.1.0', 'v1.4.0', 'deployed', 'v1.4.0', 'v1.1.0_to_v1.4.0.dump'],
      ['deploy', who, 'v1.0.0', 'v1.1.0', 'deployed', 'v1.1.0', 'v1.0.0_to_v1.1.0.dump'],
    ]);
    for (const d of s.deployments) expect(d.durationMs).toBe(Date.parse(d.finishedAt) - Date.parse(d.startedAt));
    expect(s.totalDeployments).toBe(3);
    expect(s.history).toEqual({ ok: true, where: `host1:${STATE}/history.jsonl`, current: 'v1.1.0', previous: 'v1.0.0', rollbackTarget: 'v1.0.0', skipped: 0 });

    const [h] = s.hosts;
    expect(h).toMatchObject({ name: 'host1', reachable: true, deployed: { tag: 'v1.1.0' }, health: { status: 200, version: 'v1.1.0' }, lock: null });
    expect(h.releases.map((n: string) => n.replace(/^\d{8}T\d{6}Z_/, ''))).toEqual(['v1.0.0', 'v1.1.0', 'v1.4.0']);
    expect(h.deployed.release).toBe(h.releases[1]);
    expect(h.services).toHaveLength(1);
    expect(h.services[0]).toMatchObject({ name: 'demo-chat', ok: true });
    expect(h.services[0].state).toMatch(/^active \(running\) since /);
    expect(s.backup).toMatchObject({ file: s.deployments[1].backup, verified: true, count: 2 });
  });

  it('the text form: history line, a host table, kept releases, the deployments, the newest backup; --last', async () => {
    const r = await f.task(['status', '--last', '2']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('sbx (environments/sbx.ts): end-to-end test fleet');
    expect(lines[1]).toBe(`history (host1:${STATE}/history.jsonl): live v1.1.0; rollback goes back to v1.0.0`);
    expect(lines[3]).toMatch(/^HOST +ADDRESS +DEPLOYED +SERVICES +HEALTH +LOCK$/);
    expect(lines[4]).toMatch(/^host1 +127\.[\d.]+ +v1\.1\.0 +demo-chat: active \(running\) since .*, \d+s ago +200, version v1\.1\.0, [\d.]+ ms +free$/);
    expect(lines[5]).toMatch(/^releases kept on host1: \d{8}T\d{6}Z_v1\.0\.0, \d{8}T\d{6}Z_v1\.1\.0 \(current\), \d{8}T\d{6}Z_v1\.4\.0$/);
    expect(lines[7]).toBe('last 2 of 3 deployment(s), newest first:');
    expect(lines[8]).toMatch(/^ {2}STARTED +WHO +TASK +FROM -> TO +DURATION +RESULT +BACKUP$/);
    expect(lines[9]).toMatch(new RegExp(`^  \\S+Z +${whoAmI()} +rollback +v1\\.4\\.0 -> v1\\.1\\.0 +[\\d.]+ m?s +deployed +-$`));
    expect(lines[10]).toMatch(/^ {2}\S+Z +\S+ +deploy +v1\.1\.0 -> v1\.4\.0 +[\d.]+ m?s +deployed +\d{8}T\d{6}Z_v1\.1\.0_to_v1\.4\.0\.dump$/);
    expect(lines[11]).toMatch(/^newest backup: \d{8}T\d{6}Z_v1\.1\.0_to_v1\.4\.0\.dump, \d+s old, verified \(2 in .*backups\)$/);
  });

  it('a held lock is shown with its holder', async () => {
    const record = { runId: 'r-by-hand', env: 'sbx', tag: 'v9.9.9', task: 'deploy', owner: 'alice@laptop', pid: 4242, startedAt: new Date().toISOString(), ttlSec: 7200 };
    const runner = f.runner();
    await runner.exec(command(sh`printf '%s' ${JSON.stringify(record)} > ${`${STATE}/lock.json`}`));
    try {
      const r = await f.task(['status']);
      expect(r.stdout.split('\n')[4]).toMatch(/ held by alice@laptop \(deploy v9\.9\.9, run r-by-hand\) for \d+s$/);
    } finally {
      await runner.exec(command(sh`rm -f ${`${STATE}/lock.json`}`));
    }
  });

  it('an unreachable host is shown as such, with exit 2; the others are still read', async () => {
    const file = path.join(f.envDir, 'sbx.ts');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace(/hosts: \[(.*)\],/, "hosts: [$1, { name: 'dead-1', address: '127.0.0.1', port: 1, user: 'root' }],"));
    try {
      const r = await f.task(['status', '--json']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('cutover: cannot read dead-1 (unreachable): status is incomplete\n');
      expect(r.json.hosts.map((h: { name: string; reachable: boolean }) => [h.name, h.reachable])).toEqual([['host1', true], ['dead-1', false]]);
      expect(r.json.hosts[1].problem).toMatch(/^dead-1: cannot connect to root@\[127\.0\.0\.1\]:1: .*ECONNREFUSED/);
      expect(r.json.history.current).toBe('v1.1.0');
      // --hosts leaves the unreachable one out: complete, exit 0; a filter matching nothing is refused
      const only = await f.task(['status', '--json', '--hosts', 'host1']);
      expect(only.code).toBe(0);
      expect(only.json.hosts.map((h: { name: string }) => h.name)).toEqual(['host1']);
      const none = await f.task(['status', '--tag', 'Role=api']);
      expect(none.code).toBe(2);
      expect(none.stderr).toBe('cutover: --tag Role=api matches no host of environments/sbx.ts. Hosts: host1, dead-1.\n');
    } finally {
      writeFileSync(file, original);
    }
  });
});
