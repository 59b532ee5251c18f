/**
 * deploy when things go wrong around it: the backup fails, the lock is held, the connection is
 * cut, the operator presses Ctrl-C. Each leaves the host in a state the output names.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { hostHistory, lockFile, startDeployFleet, STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';
import { killTree, signalTask } from '../support/processes.ts';

let f: DeployFleet | undefined;

afterEach(async () => {
  await f?.stop();
  f = undefined;
});



describe('deploy failures', () => {
  it('pg_dump fails (wrong database): nothing changed on the host, no dump kept, lock released, exit 2', async () => {
    f = await startDeployFleet({ databaseOverride: 'no_such_database' });
    // preflight asks the database first: make that pass by creating... no: preflight must catch it
    const r = await f.task(['deploy', 'v1.1.0']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr + r.stdout).toContain('no_such_database');
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await lockFile(f)).toBeNull();
  });

  it('pg_dump fails after preflight: the backup step refuses, nothing live changed, history says failed, exit 2', async () => {
    f = await startDeployFleet();
    // a pg_dump on the host that fails: the stand-in bin folder comes first on PATH
    const bin = path.join(f.fleet.hosts[0]!.root, 'bin/pg_dump');
    await f.runner().exec(command(sh`printf '%s\n' '#!/bin/sh' 'echo "pg_dump: error: connection to server failed: FATAL: too many connections" >&2' 'exit 1' > ${bin} && chmod +x ${bin}`));
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.json).toMatchObject({ outcome: 'refused', exitCode: 2, hosts: [{ stage: 'untouched' }] });
    expect(r.stderr).toContain('too many connections');
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await lockFile(f)).toBeNull();
    expect(execFileSync('ls', [f.backupDir], { encoding: 'utf8' })).not.toMatch(/\.dump/);
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', result: 'failed', live: null });
  });

  it('an environment that asks for confirmation refuses without a terminal and without --yes (exit 2); --skip-backup records its reason', async () => {
    f = await startDeployFleet();
    f.editEnv((t) => t.replace('policy: { autoRollback: true, confirm: false }', 'policy: { autoRollback: true, confirm: true }'));
    const refused = await f.task(['deploy', 'v1.1.0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('environment sbx asks for confirmation and there is no terminal to ask in: run it in a terminal, or pass --yes.');
    expect(await tagOn(f)).toBe('v1.0.0');
    expect(await lockFile(f)).toBeNull();

    const r = await f.task(['deploy', 'v1.1.0', '--yes', '--skip-backup', 'schema-only change, dump taken by hand at 14:02', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.backup).toEqual({ skipped: 'schema-only change, dump taken by hand at 14:02' });
    expect((await hostHistory(f)).find((e) => e.type === 'started')).toMatchObject({ skipBackupReason: 'schema-only change, dump taken by hand at 14:02' });
    expect(execFileSync('ls', [f.backupDir], { encoding: 'utf8' })).not.toMatch(/\.dump/);
  });

  it('a service without systemd (custom commands) that does not come up: its logs are in the failure, rolled back (exit 1)', async () => {
    f = await startDeployFleet();
    // "worker" runs only when the app's release.json says v1.0.0: v1.1.0 breaks it, the rollback mends it
    f.editEnv((t) =>
      t.replace(
        'services: [{ unit: "demo-chat", sudo: true }]',
        `services: [{ unit: "demo-chat", sudo: true }, { name: 'worker', commands: { restart: 'true', status: 'grep -q v1.0.0 /srv/cutover-sbx/app/release.json', logs: 'echo worker: Traceback: cannot start on this release' } }]`,
      ),
    );
    const r = await f.task(['deploy', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.error).toContain('worker is not running after the restart (status command exits 1); its logs end with:');
    expect(r.json.error).toContain('worker: Traceback: cannot start on this release');
    expect(await tagOn(f)).toBe('v1.0.0');
  });

  it('a second deploy is refused naming the holder; a stale lock is reported; --force-unlock takes it and records why', async () => {
    f = await startDeployFleet();
    const held = { runId: 'run-42', env: 'sbx', tag: 'v1.1.0', task: 'deploy', owner: 'alice@laptop', pid: 4242, startedAt: new Date().toISOString(), ttlSec: 7200 };
    await f.runner().exec(command(sh`mkdir -p ${STATE} && cat > ${`${STATE}/lock.json`}`, { stdin: `${JSON.stringify(held)}\n` }));
    const refused = await f.task(['deploy', 'v1.1.0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('held by alice@laptop (run run-42: deploy v1.1.0 to sbx, pid 4242) since');
    expect(refused.stderr).toContain('--force-unlock');
    expect(await tagOn(f)).toBe('v1.0.0');

    // older than its TTL: stale, reported as such, still not taken
    await f.runner().exec(command(sh`touch -d '3 hours ago' ${`${STATE}/lock.json`}`));
    const stale = await f.task(['deploy', 'v1.1.0']);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('is STALE');
    expect(stale.stderr).toContain('older than its TTL');
    expect(JSON.parse((await lockFile(f))!).runId).toBe('run-42');

    const forced = await f.task(['deploy', 'v1.1.0', '--force-unlock', 'alice rebooted her laptop mid-deploy', '--json']);
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    expect(await lockFile(f)).toBeNull();
    const events = await hostHistory(f);
    expect(events[0]).toMatchObject({ type: 'lock-forced', reason: 'alice rebooted her laptop mid-deploy', previous: { runId: 'run-42', owner: 'alice@laptop' } });
    expect(events.at(-1)).toMatchObject({ type: 'finished', result: 'deployed' });
  });

  it('two deploys at once: exactly one runs, the other is refused naming it', async () => {
    f = await startDeployFleet();
    const [a, b] = await Promise.all([f.task(['deploy', 'v1.1.0', '--json']), f.task(['deploy', 'v1.1.0', '--json'])]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 2]);
    const loser = a.code === 2 ? a : b;
    const winner = a.code === 0 ? a : b;
    expect(loser.stderr).toContain(`(run ${winner.json.runId}: deploy v1.1.0 to sbx`);
  });

  it('the SSH connection is cut during install: a clear state report, exit 3, the lock reported', async () => {
    f = await startDeployFleet({ extra: "" });
    const host = f.fleet.hosts[0]!;
    // a slow install step, so the cut lands inside it
    const envFile = path.join(f.envDir, 'sbx.ts');
    const text = readFileSync(envFile, 'utf8').replace("install: ['bash install.sh']", "install: ['bash install.sh', 'sleep 4']");
    execFileSync('bash', ['-c', `cat > ${JSON.stringify(envFile)}`], { input: text });
    let cut = false;
    const r = await f.task(['deploy', 'v1.1.0', '--json'], {
      onOutput: (_child, out) => {
        if (cut || !/install: demo-chat v1\.1\.0 installed/.test(out)) return;
        cut = true;
        // the host goes away: its sshd and every session of it (the whole process tree)
        killTree(host.pid);
      },
    });
    expect(cut).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json).toMatchObject({ outcome: 'needs-attention', exitCode: 3, hosts: [{ name: 'host1', stage: 'rollback-failed' }] });
    expect(r.stderr).toContain('FAILED and NOT safely rolled back');
    expect(r.stderr).toMatch(/host1: state uncertain/);
    expect(r.stderr).toMatch(/could not release the lock on host1/);
    expect(r.stderr).toContain('npx tsx tasks/rollback.ts --env sbx v1.0.0');
    // the local mirror still has the trace
    const mirror = readFileSync(path.join(f.backupDir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(mirror.map((e) => e.type)).toContain('started');
  });

  it('Ctrl-C during the restart: cleanup runs, the lock is released, the interruption is in the history, exit 130', async () => {
    // a second service whose restart takes a while (custom commands: a host without systemd)
    f = await startDeployFleet({ extra: "" });
    const envFile = path.join(f.envDir, 'sbx.ts');
    const text = readFileSync(envFile, 'utf8').replace(
      "services: [{ unit: \"demo-chat\", sudo: true }]",
      "services: [{ unit: \"demo-chat\", sudo: true }, { name: 'slow-worker', commands: { restart: 'sleep 6', status: 'true', logs: 'true' } }]",
    );
    expect(text).toContain('slow-worker');
    execFileSync('bash', ['-c', `cat > ${JSON.stringify(envFile)}`], { input: text });
    let sent = false;
    const r = await f.task(['deploy', 'v1.1.0', '--json'], {
      onOutput: (child, out) => {
        if (sent || !/❯ Restart demo-chat, slow-worker/.test(out)) return;
        sent = true;
        setTimeout(() => signalTask(child.pid!, 'SIGINT'), 500);
      },
    });
    expect(sent).toBe(true);
    expect(r.code, r.stdout + r.stderr).toBe(130);
    expect(r.json).toMatchObject({ outcome: 'interrupted', exitCode: 130 });
    expect(r.stderr).toContain('SIGINT: stopping, cleaning up, releasing the lock');
    expect(await lockFile(f)).toBeNull();
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', result: 'interrupted', live: null });
  });
});
