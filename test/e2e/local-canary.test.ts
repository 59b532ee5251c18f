/**
 * The local canary fleet end to end, with environments/local-canary.ts's own configuration in a
 * temporary clone: three sandbox hosts on this machine sharing one app path through mount
 * namespaces (needs root, or unprivileged user namespaces; CI runs as root), a real nginx in front
 * (Debian package), a PostgreSQL cluster of the "local sandbox" the fleet shares. The tasks run as
 * processes; everything is stopped by pid at the end.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetLayout } from '../../sandbox/fleet-layout.ts';
import { isRunning, listeningPids } from '../../sandbox/host.ts';
import { nginxMasterPid, stopNginx } from '../../sandbox/nginx.ts';
import { postmasterPid } from '../../sandbox/postgres.ts';
import { portFree } from '../../sandbox/provision.ts';
import { loadEnvironment } from '../../tasks/lib/config/load.ts';
import { runnerFor } from '../../tasks/lib/runners/for-host.ts';
import { exec, LocalFleet } from '../support/local-fleet.ts';
import { untrackProcess } from '../support/processes.ts';

let f: LocalFleet;
const layout = () => f.layout;

beforeAll(async () => {
  f = await LocalFleet.create();
});

afterAll(async () => {
  await f?.stop();
});

describe('the local canary fleet', () => {
  it('is created by the first command, then deploy v1.1.0 moves all three hosts, each verified on its own address', async () => {
    const r = await f.task('deploy', ['v1.1.0', '--env', 'fleet', '--json']);
    f.track();
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ outcome: 'deployed', tag: 'v1.1.0', failedHosts: [] });
    expect(r.json.hosts.map((h: { name: string; from: string }) => [h.name, h.from])).toEqual([['sandbox-a', 'v1.0.0'], ['sandbox-b', 'v1.0.0'], ['sandbox-c', 'v1.0.0']]);
    for (const h of layout().hosts) {
      // each host's own working copy moved; this machine's shared path stays an empty mount point
      expect((await exec('git', ['-C', h.appDir, 'describe', '--tags', '--exact-match'])).stdout.trim()).toBe('v1.1.0');
      expect(r.stderr).toContain(`ok   health: GET http://${h.address}:${f.appPort}/api/v1/health: 200, version v1.1.0`);
      const health = (await (await fetch(`http://${h.address}:${f.appPort}/api/v1/health`)).json()) as { version: string };
      expect(health.version).toBe('v1.1.0');
    }
    expect(readdirSync(layout().shared)).toEqual([]);
    // one state host: the lock and history are in sandbox-a's own folder, seen by it at the shared path
    const [a, b] = layout().hosts;
    expect(existsSync(path.join(a!.mountSource, '.cutover', 'app', 'history.jsonl'))).toBe(true);
    expect(existsSync(path.join(b!.mountSource, '.cutover'))).toBe(false);
  });

  it('nginx spreads requests over the three upstreams (JSON access log); the canary\'s include, test and reload change the split', async () => {
    const files = f.nginx;
    const before = existsSync(files.accessLog) ? f.upstreams().length : 0;
    expect(await f.chats(30)).toEqual(Array(30).fill(200));
    const lines = await f.logged(before, 30);
    expect(lines.every((l) => l.status === 200 && l.uri === '/api/v1/conversation/chat')).toBe(true);
    expect(f.tally(lines)).toEqual({ 'sandbox-a': 10, 'sandbox-b': 10, 'sandbox-c': 10 });

    // each host wrote its own request log, in its own folder; each host's runner reads its own at the shared path
    const env = await loadEnvironment('fleet', { dir: f.envDir });
    const hosts = env.config.hosts as Exclude<typeof env.config.hosts, { ec2: unknown }>;
    const logs = layout().hosts.map((h) => readdirSync(path.join(h.mountSource, 'logs')).map((f) => readFileSync(path.join(h.mountSource, 'logs', f), 'utf8')).join(''));
    for (const [i, h] of hosts.entries()) {
      const runner = runnerFor(env, h);
      const seen = await runner.exec({ script: `cat ${layout().logDir}/predictions_*.jsonl` });
      expect(seen.stdout).toBe(logs[i]);
      expect(logs[i]!.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(10); // its 10 chats (and the deploy's test chat)
    }
    expect(new Set(logs).size).toBe(3);

    // what tasks/canary.ts does at a step: write the include, `nginx -t`, reload (the commands of canary.nginx)
    const lb = env.config.canary!.nginx!;
    expect(lb.include).toBe(files.include);
    const master = nginxMasterPid(files)!;
    const workers = async () => (await exec('pgrep', ['-P', String(master)])).stdout.split('\n').filter(Boolean).map(Number);
    const old = await workers();
    writeFileSync(lb.include, `upstream ${lb.upstream} {\n${layout().hosts.map((h, i) => `    server ${h.address}:${lb.appPort} weight=${[2, 1, 1][i]};\n`).join('')}}\n`);
    await exec('bash', ['-c', lb.test]);
    await exec('bash', ['-c', lb.reload]);
    for (let i = 0; i < 200 && old.some(isRunning); i++) await new Promise((res) => setTimeout(res, 25)); // the old worker is gone
    const mark = f.upstreams().length;
    await f.chats(40);
    expect(f.tally(await f.logged(mark, 40))).toEqual({ 'sandbox-a': 20, 'sandbox-b': 10, 'sandbox-c': 10 });
    expect(nginxMasterPid(files)).toBe(master);
  });

  it('a second clone on the same ports is refused before it starts anything, naming the first clone and how to stop it (exit 2)', async () => {
    f.writeEnv('two', 'clone2', { app: f.appPort, nginx: f.nginxPort });
    f.writeEnv('three', 'clone2', { app: await f.fleetPort(), nginx: f.nginxPort });
    const first = path.join(f.work, 'clone');
    const ownPorts = 'or give this clone ports of its own: CUTOVER_SANDBOX_CANARY_PORT=<free port> (and CUTOVER_SANDBOX_NGINX_PORT) before the command.';
    const app = await f.task('doctor', ['--env', 'two']);
    expect(app.code).toBe(2);
    expect(app.stderr).toBe(
      `cutover: port ${f.appPort} (sandbox app) is held by the sandbox of another clone, in ${first} (the demo service, pid ${listeningPids(f.appPort)[0]}). ` +
        `Stop it there: cd ${first} && npx tsx tasks/sandbox.ts stop --env fleet — ${ownPorts}\n`,
    );
    const lb = await f.task('doctor', ['--env', 'three']);
    expect(lb.code).toBe(2);
    expect(lb.stderr).toBe(
      `cutover: port ${f.nginxPort} (sandbox nginx) is held by the sandbox of another clone, in ${first} (nginx, pid ${nginxMasterPid(f.nginx)}). ` +
        `Stop it there: cd ${first} && npx tsx tasks/sandbox.ts stop --env fleet — or give this clone ports of its own: CUTOVER_SANDBOX_NGINX_PORT=<free port> (and CUTOVER_SANDBOX_CANARY_PORT) before the command.\n`,
    );
    const second = fleetLayout(path.join(f.work, 'clone2', '.sandbox-canary'));
    expect(existsSync(path.join(second.root, 'state.json'))).toBe(false);
    expect(second.hosts.some((h) => existsSync(path.join(h.hostRoot, 'run')))).toBe(false); // no unit ever started
    expect(existsSync(path.join(f.work, 'clone2', '.sandbox'))).toBe(false); // nor PostgreSQL
  });

  it('tasks/sandbox.ts status shows the fleet and nginx; stop stops each of them by pid (the shared PostgreSQL keeps running)', async () => {
    const s = await f.task('sandbox', ['status', '--env', 'fleet', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.json).toMatchObject({ kind: 'fleet', created: true, ports: { app: f.appPort, nginx: f.nginxPort, postgres: f.pgPort }, appUrl: `http://127.0.0.1:${f.nginxPort}` });
    expect(s.json.hosts.map((h: { name: string; health: number; release: string }) => [h.name, h.health, h.release]), s.stdout).toEqual(
      [['sandbox-a', 200, 'v1.1.0'], ['sandbox-b', 200, 'v1.1.0'], ['sandbox-c', 200, 'v1.1.0']],
    );
    const procs = s.json.processes as { role: string; host?: string; pid: number; running: boolean; sharedWith?: string }[];
    expect(procs.map((p) => `${p.role}${p.host ? `@${p.host}` : ''}`)).toEqual([
      'service@sandbox-a', 'journal writer@sandbox-a', 'service@sandbox-b', 'journal writer@sandbox-b',
      'service@sandbox-c', 'journal writer@sandbox-c', 'nginx', 'postgres',
    ]);
    expect(procs.every((p) => p.running), s.stdout).toBe(true);
    const services = procs.filter((p) => p.role === 'service').map((p) => p.pid);
    expect(listeningPids(f.appPort)).toEqual([...services].sort((x, y) => x - y)); // one port, each service on its own address
    expect(procs.find((p) => p.role === 'nginx')!.pid).toBe(nginxMasterPid(f.nginx));
    expect(procs.find((p) => p.role === 'postgres')!.sharedWith).toBe(path.dirname(f.pgDir));

    // a run's lock is on the state host, sandbox-a, in its own folder: stop refuses while it is held
    const lock = path.join(layout().hosts[0]!.mountSource, '.cutover', 'app', 'lock.json');
    writeFileSync(lock, JSON.stringify({ runId: 'r-busy', env: 'fleet', tag: 'v1.6.0', task: 'deploy', owner: 'me@here', pid: process.pid, startedAt: '2026-12-01T00:00:00.000Z', ttlSec: 7200 }));
    const busy = await f.task('sandbox', ['stop', '--env', 'fleet']);
    rmSync(lock);
    expect(busy.code, busy.stdout + busy.stderr).toBe(2);
    expect(busy.stderr).toContain(`cutover: a deploy (run r-busy, pid ${process.pid}, since 2026-12-01T00:00:00.000Z) is using the sandbox in ${f.root}`);

    const stop = await f.task('sandbox', ['stop', '--env', 'fleet']);
    expect(stop.code, stop.stderr).toBe(0);
    const ours = procs.filter((p) => p.role !== 'postgres');
    for (const p of ours) expect(stop.stdout).toContain(`(pid ${p.pid}`);
    expect(stop.stdout).toContain(`Every process of the sandbox in ${f.root} is stopped (checked by pid).`);
    expect(stop.stdout).toContain(`keeps running: it belongs to the sandbox in ${path.dirname(f.pgDir)}, which shares it`);
    expect(ours.map((p) => isRunning(p.pid))).toEqual(ours.map(() => false));
    for (const h of layout().hosts) expect(await portFree(f.appPort, h.address)).toBe(true);
    expect(await portFree(f.nginxPort)).toBe(true);
    expect(postmasterPid(path.join(f.pgDir, 'data'))?.pid).toBe(procs.find((p) => p.role === 'postgres')!.pid);
    for (const p of ours.filter((x) => x.role === 'nginx')) untrackProcess(p.pid);
    await stopNginx(f.nginx); // nothing left: a no-op
  });
});
