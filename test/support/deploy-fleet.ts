/**
 * A production-like setup for end-to-end tests: N sandbox hosts (real sshd) that each run the demo
 * service from a working copy at /srv/cutover-sbx/app (the same path on every host, each backed
 * by its own folder), a git origin with release tags, a fresh database on the test run's
 * PostgreSQL, and an environment file for it. The task entry points run as real processes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHostRoot, type UnitSpec } from '../../sandbox/host.ts';
import { createOrigin, DEFAULT_RELEASES, type DemoRelease } from '../../sandbox/origin.ts';
import { connectPostgres, freePort } from '../../sandbox/postgres.ts';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { command, raw, sh } from '../../tasks/lib/commands/shell.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type HostOptions, type SshFleet, type SshHost } from './sshd.ts';
import { taskProcess } from './task-process.ts';

const exec = promisify(execFile);
export const APP = '/srv/cutover-sbx/app';
/** Where cutover keeps the lock and the history on every sandbox host (app.stateDir's default). */
export const STATE = '/srv/cutover-sbx/.cutover/app';
export const UNIT = 'demo-chat';
/** The second service of a fleet started with `secondService` (the seed's search-service beside the chat). */
export const SECOND_UNIT = 'demo-search';
/** canary instances mode: the second instance's unit (not a service of the environment; not started), run from ${APP}/canary on `secondPort`. */
export const INSTANCE_UNIT = 'demo-chat-canary';

/** The default tags plus one per way a release can go wrong. */
export const TEST_RELEASES: DemoRelease[] = [
  ...DEFAULT_RELEASES,
  { tag: 'v1.3.0', mode: 'crash' },
  { tag: 'v1.3.1', mode: 'journal-errors' },
  { tag: 'v1.4.0', mode: 'ok', migrations: { '003_add_message_score.sql': 'alter table messages add column score integer default 0;\n' } },
  { tag: 'v1.5.0', mode: 'slow-chat' }, // answers chat in 4 s: over the fleet's 2.5 s budget
  // passes deploy verification, then under traffic a third of the chats fail (canary tests: quick to see)
  { tag: 'v1.6.1', mode: 'degraded', degraded: { after: 3, errorRate: 0.3, slowShare: 0.3, extraLatencyMs: 300 } },
  // the same degradation behind a feature flag (flags canaries): fine until /features/new_ranker/enabled is true
  { tag: 'v1.7.0', mode: 'degraded', degraded: { after: 3, errorRate: 0.3, slowShare: 0.3, extraLatencyMs: 300 }, degradedFlag: '/features/new_ranker/enabled' },
];

export interface DeployFleet {
  readonly dir: string;
  readonly fleet: SshFleet;
  readonly origin: string;
  readonly envName: string;
  readonly envDir: string;
  readonly backupDir: string;
  readonly database: string;
  readonly appPort: number;
  /** The second unit's port (secondService, canaryInstance). */
  readonly secondPort: number;
  /** A runner to a host, for checking what is there. */
  runner(h?: SshHost): SshRunner;
  /** Run a task entry point as a process: `deploy v1.1.0 --yes`. */
  task(args: string[], opts?: TaskOptions): Promise<TaskRun>;
  psql(sql: string): Promise<string>;
  /** Rewrite the environment file (e.g. to add the aws section once the fake AWS runs). */
  editEnv(edit: (text: string) => string): void;
  stop(): Promise<void>;
}

export interface TaskRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The --json summary, when there was one. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TaskOptions {
  env?: NodeJS.ProcessEnv;
  /** Called with the process and everything it printed so far (stdout + stderr), at every chunk. */
  onOutput?: (child: ChildProcess, stdoutSoFar: string) => void;
}

export interface FleetOptions {
  hosts?: number;
  /** Extra environment file text (merged into the object literal). */
  extra?: string;
  /** Replace the database name the environment uses (to make pg_dump fail). */
  databaseOverride?: string;
  strategy?: 'in-place' | 'releases';
  /** Extra unit environment per host (by index): e.g. DEMO_UNHEALTHY_ON to break one host. */
  unitEnv?: (index: number) => Record<string, string>;
  /** The PostgreSQL to use; default: the test run's (vitest inject('pg')). */
  pg?: { host: string; port: number; user: string };
  /** Where the fleet's files go; default a new temporary folder. */
  dir?: string;
  /** Every sshd on one port (EC2 discovery gives one port for all hosts). */
  samePort?: boolean;
  /** Per-host sshd extras (a log file, config lines). */
  hostOptions?: (index: number) => HostOptions;
  /** A second unit (SECOND_UNIT, the same service on its own port) in `services`, restarted with the first. */
  secondService?: boolean;
  /** A second instance's unit (INSTANCE_UNIT) for canary instances mode: the service from ${APP}/canary on secondPort, installed, not started. */
  canaryInstance?: boolean;
}

let template: Promise<string> | undefined;

/**
 * The test releases' origin, built once per test process (about 1.2 s of git) and copied for each
 * fleet, whose tests may push to it: the commits have fixed dates, so every copy is the origin a
 * fresh build would give.
 */
async function originFor(dir: string): Promise<string> {
  if (!template) {
    const at = mkdtempSync(path.join(os.tmpdir(), 'cutover-origin-'));
    process.once('exit', () => rmSync(at, { recursive: true, force: true }));
    template = createOrigin(at, TEST_RELEASES);
    template.catch(() => (template = undefined)); // built again by the next fleet
  }
  const bare = path.join(dir, 'origin.git');
  await cp(await template, bare, { recursive: true });
  return bare;
}

export async function startDeployFleet(opts: FleetOptions = {}): Promise<DeployFleet> {
  const dir = opts.dir ?? mkdtempSync(path.join(os.tmpdir(), 'cutover-e2e-'));
  // vitest only inside a test run (the benchmark passes its own cluster)
  const pgInfo = opts.pg ?? (await import('vitest')).inject('pg');
  const pg = connectPostgres(pgInfo);
  const database = `e2e_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await pg.createDatabase(database);
  const [origin, appPort, secondPort] = await Promise.all([originFor(dir), freePort(), freePort()]);
  const fleet = await startSshHosts(opts.hosts ?? 1, { dir: path.join(dir, 'hosts'), mountAt: path.dirname(APP), samePort: opts.samePort, ...(opts.hostOptions ? { hostOptions: opts.hostOptions } : {}) });
  const runners: SshRunner[] = [];
  const runner = (h: SshHost = fleet.hosts[0]!) => {
    const r = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, {
      privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000,
    });
    runners.push(r);
    return r;
  };
  const f_exec = async (h: SshHost, script: string) => {
    const r = await runner(h).exec(command(raw(script)));
    if (r.code !== 0) throw new Error(`${h.name}: ${script}: ${r.stderr}`);
  };
  const pgEnv = { PGHOST: pgInfo.host, PGPORT: String(pgInfo.port), PGUSER: pgInfo.user, PGDATABASE: database };

  // "production as it is today": every host on v1.0.0, installed, running; the database migrated once
  await Promise.all(
    fleet.hosts.map(async (h, i) => {
      const releases = opts.strategy === 'releases';
      const unit: UnitSpec = {
        name: UNIT,
        workingDirectory: releases ? `${APP}/current` : APP,
        execStart: '/usr/bin/node server.mjs',
        environment: { HOST: h.address, PORT: String(appPort), DATABASE_URL: `postgres://${pgInfo.user}@${pgInfo.host}:${pgInfo.port}/${database}`, ...opts.unitEnv?.(i) },
      };
      const second: UnitSpec[] = opts.secondService ? [{ ...unit, name: SECOND_UNIT, environment: { ...unit.environment, PORT: String(secondPort) } }] : [];
      const instance: UnitSpec[] = opts.canaryInstance ? [{ ...unit, name: INSTANCE_UNIT, workingDirectory: `${APP}/canary`, environment: { ...unit.environment, PORT: String(secondPort) } }] : [];
      await createHostRoot(h.root, [unit, ...second, ...instance]);
      let real = path.join(h.root, 'srv/app');
      if (releases) {
        // the releases layout: a bare mirror, one worktree per release, `current` pointing at v1.0.0's
        const first = '20260101T000000Z_v1.0.0';
        await exec('git', ['clone', '--quiet', '--bare', origin, path.join(real, 'repo')]);
        // worktrees record absolute paths: make them with the path every host sees (/srv/cutover-sbx/app)
        await f_exec(h, `git -C ${APP}/repo worktree add --quiet --detach ${APP}/releases/${first} 'refs/tags/v1.0.0^{commit}' && ln -s releases/${first} ${APP}/current`);
        real = path.join(real, 'releases', first);
      } else {
        await exec('git', ['clone', '--quiet', origin, real]);
        await exec('git', ['-c', 'advice.detachedHead=false', '-C', real, 'checkout', '--quiet', '--detach', 'v1.0.0']);
      }
      await exec('bash', ['install.sh'], { cwd: real });
      if (i === 0) await exec('bash', ['migrate.sh'], { cwd: real, env: { ...process.env, ...pgEnv } });
      const r = runner(h);
      const started = await r.exec(command(sh`systemctl start ${[UNIT, ...second.map((u) => u.name)]}`));
      if (started.code !== 0) throw new Error(`${h.name}: cannot start ${UNIT}: ${started.stderr}`);
    }),
  );

  const envName = 'sbx';
  const envDir = path.join(dir, 'environments');
  const backupDir = path.join(dir, 'backups');
  mkdirSync(envDir);
  // as in the repository (package.json "type": "module"): without it tsx loads the file as CommonJS,
  // with a second copy of the schema and zod (about 0.1-0.25 s and 15 MB more per run)
  writeFileSync(path.join(envDir, 'package.json'), '{ "type": "module" }\n');
  const hosts = fleet.hosts.map((h) => `{ name: ${JSON.stringify(h.name)}, address: ${JSON.stringify(h.address)}, port: ${h.port}, user: ${JSON.stringify(h.user)} }`);
  writeFileSync(
    path.join(envDir, `${envName}.ts`),
    `import { defineEnvironment } from ${JSON.stringify(path.join(REPO_ROOT, 'tasks/lib/config/schema.ts'))};
export default defineEnvironment({
  description: 'end-to-end test fleet',
  hosts: [${hosts.join(', ')}],
  ssh: { user: 'root', privateKey: { env: 'SBX_SSH_KEY' }, knownHosts: ${JSON.stringify(fleet.knownHostsPath)}, keepalive: '2s', connectTimeout: '5s' },
  app: { path: ${JSON.stringify(APP)}, repo: ${JSON.stringify(origin)}, strategy: ${JSON.stringify(opts.strategy ?? 'in-place')}, install: ['bash install.sh'], migrate: ['bash migrate.sh'], migrationsDir: 'migrations' },
  services: [{ unit: ${JSON.stringify(UNIT)}, sudo: true }${opts.secondService ? `, { unit: ${JSON.stringify(SECOND_UNIT)}, sudo: true }` : ''}],
  database: { name: ${JSON.stringify(opts.databaseOverride ?? database)}, host: ${JSON.stringify(pgInfo.host)}, port: ${pgInfo.port}, user: ${JSON.stringify(pgInfo.user)}, password: { env: 'SBX_DB_PASSWORD' } },
  backups: { dir: ${JSON.stringify(backupDir)}, keep: 3 },
  verify: {
    health: { url: 'http://{host}:${appPort}/api/v1/health', versionField: 'version', timeout: '4s', interval: '100ms' },
    readiness: { url: 'http://{host}:${appPort}/api/v1/ready' },
    chat: { url: 'http://{host}:${appPort}/api/v1/conversation/chat', body: { user_id: 1, message: 'Mes dépenses du mois' }, expectContains: ['response_text'], latencyBudget: '2.5s' },
    journal: { priority: 'err', failPatterns: ['Traceback'] },
  },
  policy: { autoRollback: true, confirm: false },
  ${opts.extra ?? ''}
});
`,
  );

  const task: DeployFleet['task'] = (args, o = {}) =>
    new Promise((resolve) => {
      const [name, ...rest] = args;
      const run = taskProcess(name!, [...rest, '--env', envName]);
      const child = spawn(run.command, run.args, {
        cwd: dir,
        env: {
          ...process.env,
          CUTOVER_ENVIRONMENTS_DIR: envDir,
          SBX_SSH_KEY: fleet.clientKeyPath,
          SBX_DB_PASSWORD: 'not-needed-trust-auth', // trust auth ignores it; it must never appear in output
          NO_COLOR: '1',
          ...o.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        o.onOutput?.(child, stdout + stderr);
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        o.onOutput?.(child, stdout + stderr);
      });
      child.on('close', (code, signal) => {
        // with --json, stdout must be exactly one JSON document (progress goes to stderr)
        let json: unknown = null;
        if (rest.includes('--json') && stdout.trim()) {
          try {
            json = JSON.parse(stdout);
          } catch {
            json = { notJson: stdout.slice(0, 2000) };
          }
        }
        resolve({ code, signal, stdout, stderr, json });
      });
    });

  return {
    dir, fleet, origin, envName, envDir, backupDir, database, appPort, secondPort, runner, task,
    psql: (sql) => pg.psql(database, sql),
    editEnv(edit) {
      const file = path.join(envDir, `${envName}.ts`);
      const before = readFileSync(file, 'utf8');
      const after = edit(before);
      if (after === before) throw new Error('editEnv changed nothing: the pattern did not match');
      writeFileSync(file, after);
    },
    async stop() {
      await Promise.all(runners.map((r) => r.close()));
      await fleet.stop();
    },
  };
}

/** The tag a host's working copy is on. */
export async function tagOn(fleet: DeployFleet, h?: SshHost, dir = APP): Promise<string> {
  const r = await fleet.runner(h).exec(command(sh`git -C ${dir} describe --tags --exact-match HEAD`));
  return r.stdout.trim();
}

/** The history on a host, one event per line (the first host by default). */
export async function hostHistory(fleet: DeployFleet, h?: SshHost): Promise<Array<Record<string, unknown>>> {
  const r = await fleet.runner(h).exec(command(sh`cat ${`${STATE}/history.jsonl`}`));
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The lock file's text, or null when there is no lock. */
export async function lockFile(fleet: DeployFleet): Promise<string | null> {
  const r = await fleet.runner().exec(command(sh`cat ${`${STATE}/lock.json`}`));
  return r.code === 0 ? r.stdout : null;
}
