/**
 * tasks/sandbox.ts status | stop | reset, end to end: a real local sandbox (the demo service under
 * the journal writer, a PostgreSQL server) in a temporary "clone", the entry point run as a process;
 * and a second clone whose sandbox wants the same ports.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning, listeningPids } from '../../sandbox/host.ts';
import { freePort, postmasterPid } from '../../sandbox/postgres.ts';
import { ensureLocalSandbox } from '../../sandbox/provision.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { stopSandbox } from '../../tasks/lib/sandbox/stop.ts';
import { inspectSandbox } from '../../tasks/lib/sandbox/inspect.ts';
import { trackHostRoot, trackProcess, untrackHostRoot } from '../support/processes.ts';
import { taskProcess } from '../support/task-process.ts';

let work = '';
let envDir = '';
let appPort = 0;
let pgPort = 0;
let otherAppPort = 0;
const rootOf = (clone: string) => path.join(work, clone, '.sandbox');
const stateDirOf = (clone: string) => path.join(rootOf(clone), 'host', '.cutover', 'app');

/** An environment file like environments/local.ts, for a clone in `work`. */
function writeEnv(name: string, clone: string, ports: { app: number; pg: number }): void {
  const root = rootOf(clone);
  writeFileSync(
    path.join(envDir, `${name}.ts`),
    `import { defineEnvironment } from ${JSON.stringify(path.join(REPO_ROOT, 'tasks/lib/config/schema.ts'))};
export default defineEnvironment({
  sandbox: { root: ${JSON.stringify(root)}, appPort: ${ports.app}, pgPort: ${ports.pg} },
  hosts: [{ name: 'sandbox-1', address: '127.0.0.1', transport: 'local', pathPrefix: [${JSON.stringify(path.join(root, 'host/bin'))}] }],
  app: { path: ${JSON.stringify(path.join(root, 'host/app'))}, repo: ${JSON.stringify(path.join(root, 'origin.git'))} },
  services: [{ unit: 'demo-chat', sudo: false }],
  database: { name: 'demo', host: '127.0.0.1', port: ${ports.pg}, user: 'cutover' },
  backups: { dir: ${JSON.stringify(path.join(work, clone, 'backups'))} },
  verify: { health: { url: 'http://{host}:${ports.app}/api/v1/health' } },
});
`,
  );
}

interface Run { code: number | null; stdout: string; stderr: string; json: any } // eslint-disable-line @typescript-eslint/no-explicit-any
function task(name: string, args: string[], cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const run = taskProcess(name, args);
    const child = spawn(run.command, run.args, {
      cwd,
      env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: envDir, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, json: args.includes('--json') && stdout.trim() ? JSON.parse(stdout) : null }));
  });
}

/** Creates (or starts again) clone one's sandbox, as the first command of a fresh clone does; tracked so a crashed run stops it. */
async function startOne(): Promise<void> {
  const box = await ensureLocalSandbox({ root: rootOf('one'), appPort, pgPort, envName: 'one' });
  trackHostRoot(box.hostRoot);
  const pm = postmasterPid(path.join(rootOf('one'), 'pg', 'data'));
  if (pm) trackProcess(pm.pid, { label: 'sandbox postgres', marker: rootOf('one'), signal: 'SIGINT' });
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'cutover-sandbox-'));
  chmodSync(work, 0o755); // as root, the server runs as `postgres`, which must reach its data folder
  envDir = path.join(work, 'environments');
  mkdirSync(envDir);
  [appPort, pgPort, otherAppPort] = await Promise.all([freePort(), freePort(), freePort()]);
  writeEnv('one', 'one', { app: appPort, pg: pgPort });
  writeEnv('two', 'two', { app: appPort, pg: pgPort }); // a second clone left on the same ports
  writeEnv('twopg', 'two', { app: otherAppPort, pg: pgPort }); // its own app port, the same PostgreSQL port
  await startOne();
});

afterAll(async () => {
  for (const clone of ['one', 'two']) {
    const status = await inspectSandbox(rootOf(clone), stateDirOf(clone));
    await stopSandbox(status);
    untrackHostRoot(path.join(rootOf(clone), 'host'));
  }
  rmSync(work, { recursive: true, force: true });
});

describe('tasks/sandbox.ts', () => {
  let pids: number[] = [];

  it('status: what runs (service, journal writer, PostgreSQL), with pids, ports, health, release and folder', async () => {
    const r = await task('sandbox', ['status', '--env', 'one', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const hostRun = path.join(rootOf('one'), 'host', 'run');
    const service = Number(readFileSync(path.join(hostRun, 'demo-chat.pid'), 'utf8'));
    const writer = Number(readFileSync(path.join(hostRun, 'demo-chat.writer'), 'utf8'));
    const postgres = postmasterPid(path.join(rootOf('one'), 'pg', 'data'))!.pid;
    expect(r.json).toMatchObject({
      action: 'status', env: 'one', root: rootOf('one'), created: true, ports: { app: appPort, postgres: pgPort },
      release: 'v1.0.0', health: { url: `http://127.0.0.1:${appPort}/api/v1/health`, status: 200 }, running: true, lock: null,
      processes: [
        { role: 'service', name: 'demo-chat', pid: service, port: appPort, running: true },
        { role: 'journal writer', name: 'demo-chat', pid: writer, port: null, running: true },
        { role: 'postgres', name: 'postgres', pid: postgres, port: pgPort, running: true },
      ],
    });
    expect(listeningPids(appPort)).toEqual([service]);
    expect(listeningPids(pgPort)).toEqual([postgres]);
    pids = [service, writer, postgres];
    const text = await task('sandbox', ['--env', 'one']); // status is the default action
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Sandbox of environments/one.ts in ${rootOf('one')} (created `);
    expect(text.stdout).toMatch(new RegExp(`  service +demo-chat +pid ${service} +running +http://127\\.0\\.0\\.1:${appPort} \\(health answers 200\\), release v1\\.0\\.0\\n`));
    expect(text.stdout).toMatch(new RegExp(`  PostgreSQL +127\\.0\\.0\\.1:${pgPort} +pid ${postgres} +running +database demo, data in pg/data\\n`));
    expect(text.stdout).toContain('Stop it: npx tsx tasks/sandbox.ts stop --env one;');
  });

  it('a second clone on the same ports: refused (exit 2), naming the first clone\'s folder and how to stop it; nothing of it left running', async () => {
    const app = await task('backup', ['create', '--env', 'two']);
    expect(app.code).toBe(2);
    expect(app.stderr).toBe(
      `cutover: port ${appPort} (sandbox app) is held by the sandbox of another clone, in ${path.join(work, 'one')} (the demo service, pid ${pids[0]}). ` +
        `Stop it there: cd ${path.join(work, 'one')} && npx tsx tasks/sandbox.ts stop --env one — or give this clone ports of its own: ` +
        'CUTOVER_SANDBOX_APP_PORT=<free port> (and CUTOVER_SANDBOX_PG_PORT) before the command.\n',
    );
    const pg = await task('backup', ['create', '--env', 'twopg']);
    expect(pg.code).toBe(2);
    expect(pg.stderr).toContain(`cutover: port ${pgPort} (sandbox PostgreSQL) is held by the sandbox of another clone, in ${path.join(work, 'one')} (PostgreSQL, pid ${pids[2]}). Stop it there: cd ${path.join(work, 'one')} && npx tsx tasks/sandbox.ts stop --env one`);
    const two = await inspectSandbox(rootOf('two'), stateDirOf('two'));
    expect(two.processes.filter((p) => p.pid !== null)).toEqual([]);
    expect(listeningPids(otherAppPort)).toEqual([]);
  });

  it('stop refuses while a cutover run holds the sandbox\'s lock (exit 2, nothing stopped)', async () => {
    mkdirSync(stateDirOf('one'), { recursive: true });
    const lock = path.join(stateDirOf('one'), 'lock.json');
    writeFileSync(lock, JSON.stringify({ runId: 'r-busy', env: 'one', tag: 'v1.1.0', task: 'deploy', owner: 'me@here', pid: process.pid, startedAt: '2026-12-01T00:00:00.000Z', ttlSec: 7200 }));
    try {
      const r = await task('sandbox', ['stop', '--env', 'one']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`cutover: a deploy (run r-busy, pid ${process.pid}, since 2026-12-01T00:00:00.000Z) is using the sandbox in ${rootOf('one')}: stopping it now would cut that run off.`);
      expect(pids.map(isRunning)).toEqual([true, true, true]);
    } finally {
      rmSync(lock);
    }
  });

  it('stop: every process stopped by its pid, and confirmed; status then says nothing runs; the ports are free', async () => {
    const r = await task('sandbox', ['stop', '--env', 'one']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        `stopped  service demo-chat (pid ${pids[0]}, port ${appPort})`,
        `stopped  journal writer demo-chat (pid ${pids[1]})`,
        `stopped  PostgreSQL (pid ${pids[2]}, port ${pgPort})`,
        `Every process of the sandbox in ${rootOf('one')} is stopped (checked by pid).`,
        'The next command that uses the one environment starts it again, as it was (npx tsx tasks/sandbox.ts reset --env one starts afresh).',
        '',
      ].join('\n'),
    );
    expect(pids.map(isRunning)).toEqual([false, false, false]);
    expect([listeningPids(appPort), listeningPids(pgPort)]).toEqual([[], []]);
    const s = await task('sandbox', ['status', '--env', 'one', '--json']);
    expect(s.json).toMatchObject({ created: true, running: false });
    const again = await task('sandbox', ['stop', '--env', 'one']);
    expect([again.code, again.stdout.split('\n')[0]]).toEqual([0, `Nothing of the sandbox in ${rootOf('one')} is running.`]);
  });

  it('reset: stops what runs and deletes the folder; the next command creates it afresh', async () => {
    await startOne(); // "the next command starts it again, as it was"
    const before = await inspectSandbox(rootOf('one'), stateDirOf('one'));
    const running = before.processes.map((p) => p.pid);
    expect(running.every((p) => p !== null && isRunning(p))).toBe(true);
    const r = await task('sandbox', ['reset', '--env', 'one', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ action: 'reset', deleted: true, stillRunning: [], stopped: running.map((pid) => ({ pid })) });
    expect(existsSync(rootOf('one'))).toBe(false);
    expect(running.map((p) => isRunning(p!))).toEqual([false, false, false]);
    const s = await task('sandbox', ['status', '--env', 'one']);
    expect(s.stdout).toBe(`No sandbox in ${rootOf('one')}: the first command that uses the one environment creates it (npx tsx tasks/deploy.ts v1.1.0).\n`);
  });

  it('bad input: an unknown action, an environment without a sandbox (exit 2)', async () => {
    const bad = await task('sandbox', ['restart', '--env', 'one']);
    expect([bad.code, bad.stderr]).toEqual([2, 'cutover: unknown action "restart": use one of status, stop, reset. See: npx tsx tasks/sandbox.ts --help\n']);
    writeFileSync(path.join(envDir, 'plain.ts'), readFileSync(path.join(envDir, 'one.ts'), 'utf8').replace(/ {2}sandbox: .*\n/, ''));
    const none = await task('sandbox', ['stop', '--env', 'plain']);
    expect([none.code, none.stderr]).toEqual([2, 'cutover: environments/plain.ts has no sandbox: tasks/sandbox.ts looks after the built-in sandboxes (--env local, --env local-canary). Nothing was changed.\n']);
  });
});
