/**
 * The built-in local environment's sandbox host: created on first use inside `root` (git-ignored),
 * reused afterwards. "Production as it is today": demo-chat v1.0.0 running, migrated, behind a stand-in systemd.
 * A reuse touches nothing that is running, and leaves the app at whatever release was deployed since.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CutoverError } from '../tasks/lib/base/errors.ts';
import { commandLineOf, createHostRoot, listeningPids, stopHostUnits, workingDirOf } from './host.ts';
import { createOrigin } from './origin.ts';
import { ensurePostgres, findPgBinDir, type PgCluster } from './postgres.ts';
import { isFleet, readState, writeState, type SandboxState } from './state.ts';

export { readState, type AnySandboxState, type FleetState, type SandboxState } from './state.ts';

export interface LocalSandbox { root: string; hostRoot: string; appPath: string; origin: string; pg: PgCluster | null; skipped: string[] }

export const INITIAL_RELEASE = 'v1.0.0';
export const SANDBOX_DATABASE = 'demo';
export const NO_POSTGRES =
  'PostgreSQL is not installed (no initdb in /usr/lib/postgresql/<version>/bin nor on PATH), so the sandbox runs without a database: ' +
  'database backups and migrations are skipped. Install it with `apt-get install postgresql` and run again to get them.';
const HEALTH_TIMEOUT_MS = 15_000;
/** The demo service loads prom-client from here (its app folder installs nothing). */
export const PROM_CLIENT = resolve(import.meta.dirname, '../node_modules/prom-client');

const run = promisify(execFile);
const exists = (p: string) => stat(p).then(() => true, () => false);

export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((ok) => {
    const s = createServer();
    s.once('error', () => ok(false));
    s.listen(port, host, () => s.close(() => ok(true)));
  });
}

/**
 * The sandbox folder a process of a sandbox works in (the app: <root>/host/app; PostgreSQL: <root>/pg/data;
 * the canary fleet's services and nginx: under <clone>/.sandbox-canary), or null.
 */
export function sandboxRootOf(cwd: string): string | null {
  const dir = cwd.replace(/ \(deleted\)$/, '');
  const named = /^(.*?\/\.sandbox(?:-[a-z]+)?)(?:\/|$)/.exec(dir);
  if (named) return named[1]!;
  return /\/(host\/app|pg\/data)$/.test(dir) ? dirname(dirname(dir)) : null;
}

/** Each port variable and the one to change with it, for the "give this clone ports of its own" advice. */
const PORT_PAIRS: Record<string, string> = {
  CUTOVER_SANDBOX_APP_PORT: 'CUTOVER_SANDBOX_PG_PORT',
  CUTOVER_SANDBOX_PG_PORT: 'CUTOVER_SANDBOX_APP_PORT',
  CUTOVER_SANDBOX_CANARY_PORT: 'CUTOVER_SANDBOX_NGINX_PORT',
  CUTOVER_SANDBOX_NGINX_PORT: 'CUTOVER_SANDBOX_CANARY_PORT',
};
const PROCESS_NAME: Record<string, string> = { PostgreSQL: 'PostgreSQL', nginx: 'nginx' };
const KILL: Record<string, string> = { PostgreSQL: 'kill -INT ', nginx: 'kill -QUIT ' };

/**
 * Why a port the sandbox needs is taken, naming the holder when it can: another clone's sandbox
 * (its folder, and the command that stops it there), a sandbox whose folder was deleted (its
 * pid), or another program.
 */
export async function portTaken(port: number, what: string, envVar: string, ownRoot?: string): Promise<CutoverError> {
  const other = PORT_PAIRS[envVar] ?? 'CUTOVER_SANDBOX_APP_PORT';
  const ownPorts = `or give this clone ports of its own: ${envVar}=<free port> (and ${other}) before the command`;
  for (const pid of listeningPids(port)) {
    const cwd = workingDirOf(pid);
    const root = cwd ? sandboxRootOf(cwd) : null;
    const proc = `${PROCESS_NAME[what] ?? 'the demo service'}, pid ${pid}`;
    if (!root || root === ownRoot) continue;
    if (cwd!.endsWith(' (deleted)') || !(await exists(join(root, 'state.json'))))
      return new CutoverError(
        `port ${port} (sandbox ${what}) is held by the sandbox of a clone whose folder was deleted (${root}; ${proc}). ` +
          `Stop it by its pid: ${KILL[what] ?? 'kill '}${pid} — ${ownPorts}.`,
      );
    const envName = (await readState(join(root, 'state.json')))?.envName;
    const clone = /^\.sandbox(-[a-z]+)?$/.test(basename(root)) ? dirname(root) : root;
    const stop = `npx tsx tasks/sandbox.ts stop${envName && envName !== 'local' ? ` --env ${envName}` : ''}`;
    return new CutoverError(
      `port ${port} (sandbox ${what}) is held by the sandbox of another clone, in ${clone} (${proc}). Stop it there: cd ${clone} && ${stop} — ${ownPorts}.`,
    );
  }
  const pid = listeningPids(port)[0];
  const holder = pid ? ` (pid ${pid}: ${commandLineOf(pid) ?? 'unknown command'})` : '';
  return new CutoverError(`port ${port} (sandbox ${what}) is already in use by another program${holder}; set ${envVar} to a free port and run again`);
}

/**
 * ensurePostgres reuses the cluster running in `dir` (default <root>/pg), or (re)starts it on pgPort;
 * then creates `database` when it is not there (idempotent).
 */
export async function startPostgres(root: string, pgPort: number, database = SANDBOX_DATABASE, dir = join(root, 'pg')): Promise<PgCluster> {
  const pg = await ensureCluster(dir, pgPort);
  await pg.createDatabase(database);
  return pg;
}

/** The cluster in `dir`, running on pgPort (reused, or started); a port held by someone else is named. */
export async function ensureCluster(dir: string, pgPort: number): Promise<PgCluster> {
  try {
    return await ensurePostgres({ dir, port: pgPort });
  } catch (e) {
    if (!(await portFree(pgPort))) throw await portTaken(pgPort, 'PostgreSQL', 'CUTOVER_SANDBOX_PG_PORT', dirname(dir));
    throw e;
  }
}

export function pgEnv(pg: PgCluster, database = SANDBOX_DATABASE): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGDATABASE: database };
}

/** Clones the origin into appPath at INITIAL_RELEASE (detached), installs it, and migrates `database` when given a cluster. */
export async function deployInitial(origin: string, appPath: string, pg: PgCluster | null, database = SANDBOX_DATABASE): Promise<void> {
  await rm(appPath, { recursive: true, force: true });
  await run('git', ['clone', '--quiet', origin, appPath]);
  await run('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', INITIAL_RELEASE], { cwd: appPath });
  await run('bash', ['install.sh'], { cwd: appPath });
  if (pg) await run('bash', ['migrate.sh'], { cwd: appPath, env: pgEnv(pg, database) });
}

export async function healthAnswers(url: string): Promise<boolean> {
  try {
    await (await fetch(url, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
    return true; // any HTTP answer counts: a deployed v1.2.0 answers 503 and is still "up"
  } catch {
    return false;
  }
}

export async function ensureLocalSandbox(opts: { root: string; appPort: number; pgPort: number; unit?: string; envName?: string }): Promise<LocalSandbox> {
  const { appPort, pgPort, unit = 'demo-chat' } = opts;
  const root = resolve(opts.root);
  const hostRoot = join(root, 'host');
  const appPath = join(hostRoot, 'app');
  const statePath = join(root, 'state.json');
  const appUrl = `http://127.0.0.1:${appPort}`;
  const bin = join(hostRoot, 'bin');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const systemctl = (...args: string[]) => run(join(bin, 'systemctl'), args, { env });

  await mkdir(root, { recursive: true });
  const read = await readState(statePath);
  if (isFleet(read)) throw new CutoverError(`${root} holds the canary fleet's sandbox (environment ${read.envName ?? 'local-canary'}), not one sandbox host: give this environment its own sandbox.root`);
  const state: SandboxState | null = read;
  if (!state) {
    // first use, or an earlier attempt stopped half-way: start clean, stopping what it may have started
    if (await exists(join(hostRoot, 'run'))) await stopHostUnits(hostRoot);
    await rm(join(root, 'origin.git'), { recursive: true, force: true });
    await rm(appPath, { recursive: true, force: true });
  }
  const wasActive = (await exists(join(bin, 'systemctl'))) &&
    (await systemctl('is-active', unit).catch((e: { stdout?: string }) => e)).stdout?.trim() === 'active';
  // before anything starts: a port held by another program is the user's to change
  if ((!wasActive || state?.appPort !== appPort) && !(await portFree(appPort))) throw await portTaken(appPort, 'app', 'CUTOVER_SANDBOX_APP_PORT', root);

  let pg: PgCluster | null = null;
  try {
    const origin = (await exists(join(root, 'origin.git', 'HEAD'))) ? join(root, 'origin.git') : await createOrigin(root);
    pg = findPgBinDir() ? await startPostgres(root, pgPort) : null;
    const skipped = pg ? [] : [NO_POSTGRES];

    // the request log outside the working copy (it stays clean); prom-client from cutover's own node_modules
    const unitEnv: Record<string, string> = { HOST: '127.0.0.1', PORT: String(appPort), DEMO_LOG_DIR: join(hostRoot, 'logs'), DEMO_PROM_CLIENT: PROM_CLIENT };
    if (pg) unitEnv.DATABASE_URL = `postgres://${pg.user}@127.0.0.1:${pg.port}/${SANDBOX_DATABASE}`;
    await createHostRoot(hostRoot, [
      { name: unit, description: 'demo-chat, the demo service of the cutover sandbox', workingDirectory: appPath, execStart: '/usr/bin/node server.mjs', environment: unitEnv },
    ]);

    if (!state || !(await exists(join(appPath, '.git')))) await deployInitial(origin, appPath, pg);
    else if (pg && !state.pg) await run('bash', ['migrate.sh'], { cwd: appPath, env: pgEnv(pg) }); // PostgreSQL installed since

    if (!wasActive) await systemctl('start', unit);
    else if (JSON.stringify(state?.unitEnv) !== JSON.stringify(unitEnv)) await systemctl('restart', unit); // ports or database changed
    await waitForHealth(appUrl, appPort, unit, bin, env);

    const now = new Date().toISOString();
    const next: SandboxState = {
      createdAt: state?.createdAt ?? now, updatedAt: now, root, hostRoot, appPath, origin, ...(opts.envName ? { envName: opts.envName } : {}), unit, appPort, pgPort, appUrl,
      initialRelease: INITIAL_RELEASE, unitEnv, skipped,
      pg: pg && { host: pg.host, port: pg.port, user: pg.user, database: SANDBOX_DATABASE, dataDir: pg.dataDir, binDir: pg.binDir },
    };
    await writeState(statePath, next);
    return { root, hostRoot, appPath, origin, pg, skipped };
  } catch (e) {
    // a sandbox that never got created leaves nothing running; a reused one is left as it is
    if (!state) {
      await stopHostUnits(hostRoot);
      await pg?.stop();
    }
    throw e;
  }
}

async function waitForHealth(appUrl: string, appPort: number, unit: string, bin: string, env: NodeJS.ProcessEnv): Promise<void> {
  const url = `${appUrl}/api/v1/health`;
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (await healthAnswers(url)) return;
    const state = (await run(join(bin, 'systemctl'), ['is-active', unit], { env }).catch((e: { stdout?: string }) => e)).stdout?.trim();
    const timedOut = Date.now() > deadline;
    if (state !== 'active' || timedOut) {
      if (state !== 'active' && !(await portFree(appPort))) throw await portTaken(appPort, 'app', 'CUTOVER_SANDBOX_APP_PORT'); // taken since the check
      const journal = await run(join(bin, 'journalctl'), ['-u', unit, '-n', '20', '-o', 'cat', '--no-pager'], { env }).then((r) => r.stdout, () => '');
      const why = timedOut ? `${url} did not answer within ${HEALTH_TIMEOUT_MS / 1000} s` : `it is ${state ?? 'unknown'}`;
      throw new CutoverError(`sandbox unit ${unit} did not come up: ${why}. Its last journal lines:\n${journal}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
