/**
 * The local canary fleet's sandbox (environments/local-canary.ts): three sandbox hosts on this
 * machine, each with its own folder mounted at the shared app path for its commands, each running
 * the demo service at v1.0.0 on its own loopback address; a real nginx in front (when installed);
 * a database of its own on the local sandbox's PostgreSQL. Created on first use, reused after: a
 * reuse touches nothing that runs, and leaves the releases and the canary's weights as they are.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CutoverError } from '../tasks/lib/base/errors.ts';
import { mountNamespaceArgv, namespaceKind } from '../tasks/lib/runners/mount-namespace.ts';
import { fleetLayout, FLEET_DATABASE, type FleetHostLayout, type FleetLayout } from './fleet-layout.ts';
import { createHostRoot, stopHostUnits } from './host.ts';
import { findNginx, NO_NGINX, nginxConf, nginxFiles, nginxMasterPid, reloadNginx, startNginx, stopNginx, UPSTREAM, upstreamConf, type NginxFiles } from './nginx.ts';
import { createOrigin } from './origin.ts';
import { findPgBinDir, type PgCluster } from './postgres.ts';
import { deployInitial, ensureCluster, healthAnswers, INITIAL_RELEASE, NO_POSTGRES, pgEnv, portFree, portTaken, PROM_CLIENT } from './provision.ts';
import { isFleet, readState, writeState, type FleetHostState, type FleetState, type NginxState } from './state.ts';

export interface FleetOptions {
  root: string;
  /** With `mount` as the environment file gives it: it must be the layout's (fleet-layout.ts). */
  hosts: readonly { name: string; address: string; mount?: { source: string; target: string } }[];
  appPort: number;
  pgPort: number;
  /** The PostgreSQL cluster's folder (the local sandbox's `pg`). */
  pgDir: string;
  /** nginx's port on 127.0.0.1; null: no load balancer. */
  nginxPort: number | null;
  envName?: string;
  unit?: string;
}

export interface FleetSandbox { root: string; layout: FleetLayout; pg: PgCluster | null; nginx: NginxState | null; skipped: string[] }

const HEALTH_TIMEOUT_MS = 15_000;
const run = promisify(execFile);
const exists = (p: string) => stat(p).then(() => true, () => false);
const APP_VAR = 'CUTOVER_SANDBOX_CANARY_PORT';
const NGINX_VAR = 'CUTOVER_SANDBOX_NGINX_PORT';

/** Runs a host's stand-in systemctl in that host's mount namespace (so what it starts sees the host's own app). */
async function systemctl(host: FleetHostLayout, shared: string, ...args: string[]): Promise<{ stdout: string }> {
  const env = { ...process.env, PATH: `${host.bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const [bin, ...wrap] = mountNamespaceArgv({ source: host.mountSource, target: shared }, await namespaceKind());
  return run(bin!, [...wrap, join(host.bin, 'systemctl'), ...args], { env });
}

async function isActive(host: FleetHostLayout, unit: string): Promise<boolean> {
  if (!(await exists(join(host.bin, 'systemctl')))) return false;
  const env = { ...process.env, PATH: `${host.bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const r = await run(join(host.bin, 'systemctl'), ['is-active', unit], { env }).catch((e: { stdout?: string }) => e);
  return r.stdout?.trim() === 'active';
}

/** Stops what a fleet sandbox may have left running (an earlier attempt that stopped half-way). */
export async function stopFleetProcesses(layout: FleetLayout): Promise<void> {
  await Promise.all(layout.hosts.map((h) => stopHostUnits(h.hostRoot)));
  await stopNginx(nginxFiles(layout.nginxDir));
}

export async function ensureFleetSandbox(opts: FleetOptions): Promise<FleetSandbox> {
  const { appPort, unit = 'demo-chat' } = opts;
  const root = resolve(opts.root);
  const layout = fleetLayout(root, opts.hosts);
  const statePath = join(root, 'state.json');
  for (const [i, h] of opts.hosts.entries()) {
    const want = { source: layout.hosts[i]!.mountSource, target: layout.shared };
    if (h.mount && (resolve(h.mount.source) !== want.source || resolve(h.mount.target) !== want.target))
      throw new CutoverError(`hosts[${i}].mount of ${h.name} must be ${JSON.stringify(want)} for the sandbox in ${root} (sandbox/fleet-layout.ts)`);
  }
  await namespaceKind(); // before anything: a machine without mount namespaces is told what to do
  await mkdir(root, { recursive: true });
  const read = await readState(statePath);
  if (read && !isFleet(read)) throw new CutoverError(`${root} holds a one-host sandbox (environment ${read.envName ?? 'local'}), not the canary fleet: give this environment its own sandbox.root`);
  const state = read && isFleet(read) ? read : null;
  if (!state) {
    // first use, or an earlier attempt stopped half-way: start clean, stopping what it may have started
    await stopFleetProcesses(layout);
    await rm(layout.origin, { recursive: true, force: true });
    for (const h of layout.hosts) await rm(h.mountSource, { recursive: true, force: true });
  }
  // before anything starts: a port held by another program (or clone) is the user's to change
  const active = await Promise.all(layout.hosts.map((h) => isActive(h, unit)));
  for (const [i, h] of layout.hosts.entries())
    if ((!active[i] || state?.appPort !== appPort) && !(await portFree(appPort, h.address))) throw await portTaken(appPort, 'app', APP_VAR, root);
  const nginxBin = opts.nginxPort === null ? null : findNginx();
  const lbOurs = nginxMasterPid(nginxFiles(layout.nginxDir)) !== null && state?.nginx?.port === opts.nginxPort;
  if (nginxBin && opts.nginxPort !== null && !lbOurs && !(await portFree(opts.nginxPort))) throw await portTaken(opts.nginxPort, 'nginx', NGINX_VAR, root);

  try {
    const origin = (await exists(join(layout.origin, 'HEAD'))) ? layout.origin : await createOrigin(root);
    const skipped: string[] = [];
    const pg = findPgBinDir() ? await fleetDatabase(opts, !state) : null;
    if (!pg) skipped.push(NO_POSTGRES);
    const hosts = await Promise.all(layout.hosts.map((h) => prepareHost(layout, h, { appPort, unit, pg: pg?.cluster ?? null })));
    // the first host migrates the database, once: at creation, or when the database is new (PostgreSQL installed or reset since)
    const fresh = await Promise.all(layout.hosts.map(async (h) => !state || !(await exists(join(h.appDir, '.git')))));
    await Promise.all(layout.hosts.map((h, i) => (fresh[i] ? deployInitial(origin, h.appDir, i === 0 && pg ? pg.cluster : null, FLEET_DATABASE) : null)));
    if (pg && !fresh[0] && (pg.created || !state?.pg)) await run('bash', ['migrate.sh'], { cwd: layout.hosts[0]!.appDir, env: pgEnv(pg.cluster, FLEET_DATABASE) });

    await Promise.all(layout.hosts.map(async (h, i) => {
      if (!active[i]) await systemctl(h, layout.shared, 'start', unit);
      else if (JSON.stringify(state?.hosts.find((s) => s.name === h.name)?.unitEnv) !== JSON.stringify(hosts[i]!.unitEnv))
        await systemctl(h, layout.shared, 'restart', unit); // ports or database changed
      await waitForHealth(h, hosts[i]!.appUrl, unit, layout.shared);
    }));

    if (opts.nginxPort !== null && !nginxBin) skipped.push(NO_NGINX);
    const nginx = nginxBin && opts.nginxPort !== null ? await ensureNginx(nginxBin, layout, opts.nginxPort, appPort, state) : null;

    const now = new Date().toISOString();
    const next: FleetState = {
      kind: 'fleet', createdAt: state?.createdAt ?? now, updatedAt: now, root, ...(opts.envName ? { envName: opts.envName } : {}), origin,
      shared: layout.shared, appPath: layout.appPath, unit, appPort, initialRelease: INITIAL_RELEASE, hosts,
      pg: pg && { host: pg.cluster.host, port: pg.cluster.port, user: pg.cluster.user, database: FLEET_DATABASE, dataDir: pg.cluster.dataDir, binDir: pg.cluster.binDir, sharedWith: dirname(resolve(opts.pgDir)) },
      nginx, skipped,
    };
    await writeState(statePath, next);
    return { root, layout, pg: pg?.cluster ?? null, nginx, skipped };
  } catch (e) {
    if (!state) await stopFleetProcesses(layout); // a fleet that never got created leaves nothing running; a reused one is left as it is
    throw e;
  }
}

/** The fleet's own database on the shared cluster: dropped and made again when the fleet is created afresh. */
async function fleetDatabase(opts: FleetOptions, fresh: boolean): Promise<{ cluster: PgCluster; created: boolean }> {
  const cluster = await ensureCluster(resolve(opts.pgDir), opts.pgPort);
  if (fresh) await cluster.psql('postgres', `drop database if exists ${FLEET_DATABASE};`);
  const had = (await cluster.psql('postgres', `select count(*) from pg_database where datname = '${FLEET_DATABASE}';`)).trim() === '1';
  await cluster.createDatabase(FLEET_DATABASE);
  return { cluster, created: !had };
}

async function prepareHost(layout: FleetLayout, h: FleetHostLayout, o: { appPort: number; unit: string; pg: PgCluster | null }): Promise<FleetHostState> {
  const unitEnv: Record<string, string> = { HOST: h.address, PORT: String(o.appPort), DEMO_LOG_DIR: layout.logDir, DEMO_PROM_CLIENT: PROM_CLIENT };
  if (o.pg) unitEnv.DATABASE_URL = `postgres://${o.pg.user}@127.0.0.1:${o.pg.port}/${FLEET_DATABASE}`;
  await createHostRoot(h.hostRoot, [
    { name: o.unit, description: `demo-chat on ${h.name}, a host of the cutover canary fleet`, workingDirectory: layout.appPath, execStart: '/usr/bin/node server.mjs', environment: unitEnv },
  ]);
  await mkdir(join(h.mountSource, 'logs'), { recursive: true });
  await mkdir(layout.shared, { recursive: true }); // the mount target (an empty folder on this machine)
  return { name: h.name, address: h.address, hostRoot: h.hostRoot, mountSource: h.mountSource, appUrl: `http://${h.address}:${o.appPort}`, unitEnv };
}

async function waitForHealth(h: FleetHostLayout, appUrl: string, unit: string, shared: string): Promise<void> {
  const url = `${appUrl}/api/v1/health`;
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (await healthAnswers(url)) return;
    const active = await isActive(h, unit);
    const timedOut = Date.now() > deadline;
    if (!active || timedOut) {
      const journal = await systemctl(h, shared, 'status', unit).then((r) => r.stdout, () => '');
      const why = timedOut ? `${url} did not answer within ${HEALTH_TIMEOUT_MS / 1000} s` : 'it is not active';
      throw new CutoverError(`sandbox unit ${unit} on ${h.name} did not come up: ${why}.\n${journal}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * nginx.conf is the sandbox's (written again when it differs); upstream.conf is the canary's: written
 * only when missing, at creation, or when the hosts' port changed (every host at weight 1).
 */
async function ensureNginx(bin: string, layout: FleetLayout, port: number, appPort: number, state: FleetState | null): Promise<NginxState> {
  const files = nginxFiles(layout.nginxDir);
  await mkdir(join(files.dir, 'tmp'), { recursive: true });
  const conf = nginxConf({ files, port, asRoot: process.getuid?.() === 0 });
  const confChanged = (await readFile(files.conf, 'utf8').catch(() => '')) !== conf;
  if (confChanged) await writeFile(files.conf, conf);
  const servers = layout.hosts.map((h) => ({ address: `${h.address}:${appPort}`, weight: 1 }));
  const includeNew = !state?.nginx || state.appPort !== appPort || !(await exists(files.include));
  if (includeNew) await writeFile(files.include, upstreamConf(servers));
  const url = `http://127.0.0.1:${port}`;
  if (!nginxMasterPid(files)) {
    if (!(await portFree(port))) throw await portTaken(port, 'nginx', NGINX_VAR, layout.root); // taken since the first check
    await startNginx(bin, files);
  } else if (confChanged || includeNew) await reloadNginx(bin, files);
  await waitForNginx(url, files);
  return { bin, port, url, dir: files.dir, conf: files.conf, include: files.include, accessLog: files.accessLog, pidFile: files.pidFile, upstream: UPSTREAM };
}

async function waitForNginx(url: string, files: NginxFiles): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`${url}/__cutover_lb`, { signal: AbortSignal.timeout(1000) }).then(async (r) => (await r.arrayBuffer(), r.ok), () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new CutoverError(`nginx of the sandbox (${files.conf}) does not answer on ${url}; see ${files.errorLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
