/**
 * The changing-task kernel, end to end over SSH: the interactive renderer as a person sees it on a
 * terminal, the lock renewed while a run holds it (and a lost lock stopping the run), a "started"
 * record that cannot be written, the state host (pinned, moved, gone), the rollback target read
 * again under the lock, and dry-runs that come from the real graph.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { hostHistory, lockFile, startDeployFleet, STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';
import { runInTerminal } from '../support/terminal.ts';

let f: DeployFleet | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

/** Polls `cond` every 100 ms until it holds (or fails the test after `ms`). */
async function until(cond: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function terminalEnv(fleet: DeployFleet): NodeJS.ProcessEnv {
  return { ...process.env, CUTOVER_ENVIRONMENTS_DIR: fleet.envDir, SBX_SSH_KEY: fleet.fleet.clientKeyPath, SBX_DB_PASSWORD: 'not-needed-trust-auth', NO_COLOR: '1' };
}

/** Is a process running `file` in folder `cwd` (read from /proc: no process started to ask)? */
function running(file: string, cwd: string): boolean {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(file) && readlinkSync(`/proc/${pid}/cwd`) === cwd;
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    });
}

const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
const taskFile = (name: string) => path.join(REPO_ROOT, `tasks/${name}.ts`);

describe('the interactive renderer, on a 160x50 terminal', () => {
  it('a good deploy then a broken one: no spinner frames left, ✖ on the failed step and host, the failure said once in the list and once in the summary, the summary last', async () => {
    f = await startDeployFleet();
    const env = terminalEnv(f);
    const good = await runInTerminal([tsx, taskFile('deploy'), 'v1.1.0', '--env', 'sbx'], { cwd: f.dir, env });
    expect(good.code, good.lines.join('\n')).toBe(0);
    expect(good.lines.join('\n')).not.toMatch(SPINNER);
    expect(good.lines).toContain('✔ Verify v1.1.0');
    expect(good.lines.at(-1)).toMatch(/^ {2}report: /);

    const bad = await runInTerminal([tsx, taskFile('deploy'), 'v1.2.0', '--env', 'sbx'], { cwd: f.dir, env });
    const screen = bad.lines.join('\n');
    expect(bad.code, screen).toBe(1);
    expect(screen).not.toMatch(SPINNER); // no frames of a list run by hand left in the scrollback
    expect(bad.lines).toContain('✖ Verify v1.2.0');
    expect(bad.lines).toContain('  ✖ host1 on v1.2.0');
    expect(screen).not.toMatch(/✔ Verify v1\.2\.0/);
    const failure = /health answered 503|last status 503/g;
    expect(screen.match(failure)?.length).toBe(2); // under the host, and in the summary
    const summary = bad.lines.findIndex((l) => l.startsWith('deploy v1.2.0 to sbx: FAILED, rolled back'));
    expect(summary).toBeGreaterThan(bad.lines.findIndex((l) => l.startsWith('✔ Rollback verified')));
    expect(bad.lines.slice(summary + 1).filter((l) => /^[✔✖❯◼⚠↓›]/.test(l.trim()))).toEqual([]); // nothing of the task list after the summary
  });
});

describe('the lock, held by a long run', () => {
  it('is renewed while the run holds it: a second run sees it held, not stale, past its TTL', async () => {
    // the pause keeps the first run holding the lock well past the second one's check, even on a busy machine
    f = await startDeployFleet({ hosts: 2, extra: "state: { lockTtl: '8s' }, rollout: { batchSize: 1, pause: '30s' }," });
    const first = f.task(['deploy', 'v1.1.0', '--json']);
    await until(async () => (await tagOn(f!, f!.fleet.hosts[0])) === 'v1.1.0', 120_000);
    await new Promise((r) => setTimeout(r, 9000)); // longer than the TTL since the lock was taken
    const second = await f.task(['deploy', 'v1.1.0']);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/The deploy lock .* is held by /);
    expect(second.stderr).not.toMatch(/STALE/);
    const r = await first;
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('a run that loses its lock stops at once, attempts no undo, and says so (exit 3)', async () => {
    f = await startDeployFleet({ hosts: 2, extra: "state: { lockTtl: '8s' }, rollout: { batchSize: 1, pause: '20s' }," });
    const first = f.task(['deploy', 'v1.1.0', '--json']);
    await until(async () => (await tagOn(f!, f!.fleet.hosts[0])) === 'v1.1.0' && (await lockFile(f!)) !== null);
    // someone else's run now holds it (as --force-unlock elsewhere would leave it)
    const stolen = (await lockFile(f))!.replace(/"runId":"[^"]+"/, '"runId":"20260101T000000Z-other1"');
    await f.runner().exec(command(sh`printf '%s' ${stolen} > ${`${STATE}/lock.json`}`));
    const r = await first;
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/this run lost the deploy lock: .*20260101T000000Z-other1.*no automatic undo was attempted/s);
    expect(await tagOn(f, f.fleet.hosts[0])).toBe('v1.1.0'); // not rolled back by a run that no longer holds the lock
    expect(await tagOn(f, f.fleet.hosts[1])).toBe('v1.0.0');
    expect(await lockFile(f)).toContain('20260101T000000Z-other1'); // and the other run's lock left alone
  });
});

describe('the history', () => {
  it('a "started" record that cannot be written: nothing changes, no "finished" line anywhere, the lock released (exit 2)', async () => {
    f = await startDeployFleet();
    await f.runner().exec(command(sh`mkdir -p ${`${STATE}/history.jsonl`}`)); // a folder where the file should be
    const r = await f.task(['deploy', 'v1.1.0']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/could not record the start of the run in the history, so nothing was changed/);
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await lockFile(f)).toBeNull();
    expect(existsSync(path.join(f.backupDir, 'history.jsonl'))).toBe(false);
  });
});

describe('the state host', () => {
  it('pinned with state.host: the lock and history live there; moving it later is refused with the way to move it (exit 2); a host that is gone too', async () => {
    f = await startDeployFleet({ hosts: 2, extra: "state: { host: 'host2' }," });
    const r = await f.task(['deploy', 'v1.1.0']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await hostHistory(f, f.fleet.hosts[1])).map((e) => e.type)).toEqual(['started', 'finished']);
    const onHost1 = await f.runner(f.fleet.hosts[0]).exec(command(sh`test -e ${`${STATE}/history.jsonl`}`));
    expect(onHost1.code).toBe(1);

    f.editEnv((t) => t.replace("state: { host: 'host2' },", ''));
    const moved = await f.task(['deploy', 'v1.0.0']);
    expect(moved.code).toBe(2);
    expect(moved.stderr).toMatch(/are on host2 .*but this run would keep them on host1.*state: \{ host: 'host2' \}/s);

    f.editEnv((t) => t.replace(/, \{ name: "host2"[^}]*\}/, ''));
    const gone = await f.task(['deploy', 'v1.0.0']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/host2 \(.*\), which held the deploy lock and history of sbx, is no longer one of its hosts/);
  });

  it('another machine (nothing remembered) that would keep the state elsewhere than the host holding the history is refused', async () => {
    f = await startDeployFleet({ hosts: 2, extra: "state: { host: 'host2' }," });
    expect((await f.task(['deploy', 'v1.1.0'])).code).toBe(0);
    rmSync(path.join(f.backupDir, 'state-host.json')); // as on a machine that never ran here
    f.editEnv((t) => t.replace("state: { host: 'host2' },", ''));
    const r = await f.task(['rollback']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/host2 holds the deployment history of sbx, but this run would keep the lock and history on host1, which has none/);
  });
});

describe('rollback', () => {
  it('reads its target again once the lock is held: a run that finished meanwhile makes it refuse (exit 2)', async () => {
    f = await startDeployFleet({ extra: 'policy: { autoRollback: true, confirm: true },' });
    expect((await f.task(['deploy', 'v1.1.0', '--yes'])).code).toBe(0);
    const fleet = f;
    let typed = false;
    const rollback = runInTerminal([tsx, taskFile('rollback'), '--env', 'sbx'], {
      cwd: f.dir,
      env: terminalEnv(f),
      // at the confirmation (preflight chose v1.0.0), another run changes the history, then the name is typed
      input: (write, output) => {
        const timer = setInterval(async () => {
          if (typed || !output().includes('Type "sbx" to go ahead')) return;
          typed = true;
          clearInterval(timer);
          await fleet.task(['rollback', '--yes']);
          write('sbx\r');
        }, 100);
      },
    });
    const r = await rollback;
    const screen = r.lines.join('\n');
    expect(r.code, screen).toBe(2);
    expect(screen).toMatch(/the history changed while this run waited for the lock/);
    expect(await tagOn(f)).toBe('v1.0.0'); // the other run's rollback, nothing more
  });

  it('never goes forward: after v1.0.0 -> v1.1.0 and a rollback, a second rollback refuses (exit 2) and says how to name a tag', async () => {
    f = await startDeployFleet();
    expect((await f.task(['deploy', 'v1.1.0'])).code).toBe(0);
    expect((await f.task(['rollback'])).code).toBe(0);
    expect(await tagOn(f)).toBe('v1.0.0');
    const again = await f.task(['rollback']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/nothing older to roll back to.*npx tsx tasks\/rollback\.ts <tag> --env sbx/s);
    expect(await tagOn(f)).toBe('v1.0.0');
    const status = await f.task(['status']);
    expect(status.stdout).toMatch(/rollback goes back to \(nothing before it\)/);
  });
});

describe('the terminal going away', () => {
  it('a deploy whose terminal hangs up mid-run goes on to its end: deployed, verified, recorded, the lock released; the report says the output was lost', async () => {
    f = await startDeployFleet();
    const fleet = f;
    // the terminal closes once the work has begun (as a dropped SSH session to the bastion): the
    // session gets SIGHUP, and every later write to the terminal fails
    const r = await runInTerminal([tsx, taskFile('deploy'), 'v1.1.0', '--env', 'sbx', '--yes'], { cwd: f.dir, env: terminalEnv(f), hangUpWhen: (out) => out.includes('Check out v1.1.0') });
    expect(r.code).toBeNull(); // `script` killed: what the terminal saw stops there
    expect(r.raw).not.toContain('DONE');
    await until(async () => (await hostHistory(fleet)).at(-1)?.type === 'finished', 120_000);
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', task: 'deploy', result: 'deployed', live: 'v1.1.0' });
    expect(await tagOn(f)).toBe('v1.1.0');
    await until(async () => (await lockFile(fleet)) === null, 30_000);
    const reports = path.join(f.backupDir, 'reports');
    await until(() => readdirSync(reports).some((n) => n.endsWith('.json') && n.includes('_deploy_')), 30_000);
    const report = JSON.parse(readFileSync(path.join(reports, readdirSync(reports).find((n) => n.endsWith('.json') && n.includes('_deploy_'))!), 'utf8'));
    expect(report.verdict).toBe('deployed');
    expect(JSON.stringify(report), JSON.stringify(report.notes ?? report)).toMatch(
      // whichever came first: the hangup signal, or a write to the closed terminal
      /(the terminal hung up \(SIGHUP\)|standard (output|error) failed \(EIO\)) at [0-9T:.-]+Z: the run went on to its end without showing its output/,
    );
  }, 300_000);

  it('a watcher with nobody to watch stops: verify --watch ends when its terminal hangs up', async () => {
    f = await startDeployFleet();
    const r = await runInTerminal([tsx, taskFile('verify'), '--env', 'sbx', '--watch', '1s'], { cwd: f.dir, env: terminalEnv(f), hangUpWhen: (out) => out.includes('health') });
    expect(r.code).toBeNull();
    await until(() => !running(taskFile('verify'), f!.dir), 30_000); // before: it would have polled the hosts every second, for ever
  }, 300_000);

  it('a hangup at the typed confirmation changes nothing, and the process ends', async () => {
    f = await startDeployFleet({ extra: 'policy: { autoRollback: true, confirm: true },' });
    expect((await f.task(['deploy', 'v1.1.0', '--yes'])).code).toBe(0);
    const before = (await hostHistory(f)).length;
    const r = await runInTerminal([tsx, taskFile('rollback'), '--env', 'sbx'], { cwd: f.dir, env: terminalEnv(f), hangUpWhen: (out) => out.includes('Type "sbx" to go ahead') });
    expect(r.code, r.raw).toBeNull();
    // the task's process ends by itself (no handle is left once its terminal closed)
    await until(() => !running(taskFile('rollback'), f!.dir), 30_000);
    expect((await hostHistory(f)).length).toBe(before);
    expect(await lockFile(f)).toBeNull();
    expect(await tagOn(f)).toBe('v1.1.0');
  }, 300_000);
});

describe('host filters', () => {
  it('deploy --hosts host1: only host1 moves, the history records it, status shows the hosts on different tags; an unknown host is refused (exit 2)', async () => {
    f = await startDeployFleet({ hosts: 2 });
    const bad = await f.task(['deploy', 'v1.1.0', '--hosts', 'host9']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--hosts host9: no such host in environments\/sbx\.ts\. Hosts: host1, host2/);
    const r = await f.task(['deploy', 'v1.1.0', '--hosts', 'host1', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.hosts.map((h: { name: string }) => h.name)).toEqual(['host1']);
    expect([await tagOn(f, f.fleet.hosts[0]), await tagOn(f, f.fleet.hosts[1])]).toEqual(['v1.1.0', 'v1.0.0']);
    expect((await hostHistory(f)).find((e) => e.type === 'started')).toMatchObject({ hosts: ['host1'] });
    const status = await f.task(['status']);
    expect(status.stdout).toContain('hosts on different tags: v1.1.0 on host1; v1.0.0 on host2');
    expect(status.stdout).toContain('v1.0.0 -> v1.1.0 (only host1)');
  });
});

describe('dry-run is the real graph', () => {
  it('a service with custom commands shows its own restart command; nothing changes', async () => {
    f = await startDeployFleet();
    f.editEnv((t) =>
      t.replace(
        'services: [{ unit: "demo-chat", sudo: true }]',
        "services: [{ name: 'demo', commands: { restart: 'sudo -n systemctl restart demo-chat', status: 'systemctl is-active demo-chat', logs: 'journalctl -u demo-chat -n 20' } }]",
      ),
    );
    const r = await f.task(['deploy', 'v1.1.0', '--dry-run']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[host1] sudo -n systemctl restart demo-chat');
    expect(r.stdout).toMatch(/\[host1\] git -C \S+ -c advice.detachedHead=false checkout --quiet --detach 'refs\/tags\/v1\.1\.0\^\{commit\}'/);
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await lockFile(f)).toBeNull();
    expect(readFileSync(path.join(f.envDir, 'sbx.ts'), 'utf8')).toContain('commands:');
  });
});
