/** doctor as a process: its table and exit codes against real sandbox hosts. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeployFleet, type DeployFleet } from '../support/deploy-fleet.ts';
import { taskProcess } from '../support/task-process.ts';

describe('doctor', () => {
  let f: DeployFleet;
  beforeAll(async () => {
    f = await startDeployFleet({ hosts: 2 });
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('all good: a row per check and host, exit 0', async () => {
    const r = await f.task(['doctor']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rows = r.stdout.split('\n');
    expect(rows[0]).toMatch(/^HOST\s+CHECK\s+RESULT\s+DETAIL$/);
    for (const h of f.fleet.hosts) {
      expect(r.stdout).toMatch(new RegExp(`${h.name}\\s+connect\\s+ok\\s+root@${h.address.replaceAll('.', '\\.')}:${h.port}, host key matches known_hosts`));
      expect(r.stdout).toMatch(new RegExp(`${h.name}\\s+commands\\s+ok\\s+bash, git, flock, mktemp, stat, timeout, pgrep, systemctl, journalctl, sudo, pg_dump, psql`));
      expect(r.stdout).toMatch(new RegExp(`${h.name}\\s+app path\\s+ok\\s+/srv/cutover-sbx/app: git working copy on tag v1\\.0\\.0`));
      expect(r.stdout).toMatch(new RegExp(`${h.name}\\s+service demo-chat\\s+ok\\s+unit demo-chat exists, active`));
    }
    expect(r.stdout).toMatch(/host1\s+database\s+ok\s+.*answers \(PostgreSQL 1\d/);
    expect(r.stdout).toContain('sbx: ready for cutover.');
  });

  it('--json gives the same checks as data', async () => {
    const r = await f.task(['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.ok).toBe(true);
    const host2 = r.json.checks.filter((c: { host: string }) => c.host === 'host2');
    expect(host2.map((c: { check: string; verdict: string }) => `${c.check}:${c.verdict}`)).toEqual([
      'ssh settings:ok', 'connect:ok', 'commands:ok', 'app path:ok', 'service demo-chat:ok',
    ]);
    // where each SSH value came from
    const h2 = f.fleet.hosts[1]!;
    expect(host2[0].why).toBe(
      `address ${h2.address} [environment (hosts[].address)]; port ${h2.port} [environment (hosts[].port)]; user root [environment (hosts[].user)]; ` +
        `key *** [environment (ssh.privateKey)]; jump none [default (direct)]; known_hosts ${f.fleet.knownHostsPath} [environment (ssh.knownHosts)]`,
    );
    // --hosts: only that host's rows
    const one = await f.task(['doctor', '--json', '--hosts', 'host2']);
    expect(one.json, `exit ${one.code}: ${one.stderr}`).not.toBeNull();
    expect(new Set(one.json.checks.map((c: { host: string }) => c.host)).has('host1')).toBe(false);
    expect(one.json.checks.some((c: { host: string }) => c.host === 'host2')).toBe(true);
  });

  it('a unit name typo, a wrong host key and a dead host: FAIL rows naming them, exit 2', async () => {
    const file = path.join(f.envDir, 'sbx.ts');
    const original = readFileSync(file, 'utf8');
    try {
      // host2's known_hosts line gets host1's key; the unit is misspelled; a third host is dead
      const kh = readFileSync(f.fleet.knownHostsPath, 'utf8').split('\n');
      const [h1, h2] = f.fleet.hosts;
      const key1 = kh.find((l) => l.startsWith(`[${h1!.address}]:${h1!.port} `))!.split(' ').slice(1).join(' ');
      const wrongKh = path.join(f.dir, 'known_hosts.wrong');
      writeFileSync(wrongKh, kh.map((l) => (l.startsWith(`[${h2!.address}]:${h2!.port} `) ? `[${h2!.address}]:${h2!.port} ${key1}` : l)).join('\n'));
      writeFileSync(
        file,
        original
          .replace(`knownHosts: ${JSON.stringify(f.fleet.knownHostsPath)}`, `knownHosts: ${JSON.stringify(wrongKh)}`)
          .replace('services: [{ unit: "demo-chat"', 'services: [{ unit: "demo-caht"')
          .replace(/hosts: \[/, "hosts: [{ name: 'dead-1', address: '127.0.0.1', port: 1, user: 'root' }, "),
      );
      const r = await f.task(['doctor']);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toMatch(/dead-1\s+connect\s+FAIL\s+cannot connect to root@\[127\.0\.0\.1\]:1: .*ECONNREFUSED/);
      expect(r.stdout).toMatch(new RegExp(`host2\\s+host key\\s+FAIL\\s+HOST KEY MISMATCH for \\[${h2!.address.replaceAll('.', '\\.')}\\]:${h2!.port}`));
      expect(r.stdout).toMatch(/host1\s+service demo-caht\s+FAIL\s+unit demo-caht not found/);
      expect(r.stdout).toMatch(/sbx: \d+ check\(s\) failed: /);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('bad config: every problem at once, exit 2', async () => {
    writeFileSync(path.join(f.envDir, 'broken.ts'), `export default { hosts: [], app: { path: 'x' }, services: [], verify: { health: { url: 'nope' } } };\n`);
    const run = taskProcess('doctor', ['--env', 'broken']);
    const r = spawnSync(run.command, run.args, {
      encoding: 'utf8',
      env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      [
        'cutover: the environment is not valid (nothing was changed):',
        '  environments/broken.ts: hosts: needs at least one host',
        '  environments/broken.ts: app.path: must be an absolute path',
        '  environments/broken.ts: app.repo: is required (expected string)',
        '  environments/broken.ts: services: needs at least one service',
        '  environments/broken.ts: verify.health.url: Invalid URL',
        '',
      ].join('\n'),
    );
  });
});
