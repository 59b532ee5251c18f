/**
 * What a sandbox on this machine runs: its units (the demo service and the journal writer that
 * runs it) on its one host or on each host of the canary fleet, the fleet's nginx, the PostgreSQL
 * server, with their pids checked against what runs now (a pid file can outlive its process, and a
 * pid can be reused), its ports, health, releases and lock. Read-only.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandLineOf, isRunning, processStartedAt, runningUnitPids } from '../../../sandbox/host.ts';
import { nginxFiles, nginxMasterPid } from '../../../sandbox/nginx.ts';
import { postmasterPid } from '../../../sandbox/postgres.ts';
import { isFleet, readState, type AnySandboxState } from '../../../sandbox/state.ts';
import { lockFileIn } from '../state/paths.ts';
import { LockRecord } from '../state/records.ts';

export type ProcessRole = 'service' | 'journal writer' | 'postgres' | 'nginx';

export interface SandboxProcess {
  readonly role: ProcessRole;
  /** The unit it belongs to (`demo-chat`), `postgres` or `nginx`. */
  readonly name: string;
  /** The canary fleet: the host it runs on. */
  readonly host?: string;
  /** null: not running (nothing recorded, or the recorded process is gone). */
  readonly pid: number | null;
  /** When it started (epoch ms, from /proc): with the pid, the identity of the process. */
  readonly startedAt: number | null;
  readonly port: number | null;
  /** Another sandbox's process (the fleet uses the local sandbox's PostgreSQL): shown, never stopped from here. */
  readonly sharedWith?: string;
}

export interface HostStatus {
  readonly name: string;
  readonly url: string;
  /** What its health endpoint answered (null: no answer). */
  readonly health: number | null;
  /** The release tag checked out in its app folder. */
  readonly release: string | null;
}

export interface SandboxStatus {
  readonly root: string;
  readonly kind: 'host' | 'fleet';
  /** state.json is there: the sandbox was created completely. */
  readonly created: boolean;
  readonly state: AnySandboxState | null;
  readonly processes: readonly SandboxProcess[];
  /** The demo service's health endpoint and what it answered (one sandbox host; null for a fleet). */
  readonly health: { readonly url: string; readonly status: number | null } | null;
  /** The release tag checked out in the sandbox host's app folder (one sandbox host). */
  readonly release: string | null;
  /** The canary fleet's hosts (empty for one sandbox host). */
  readonly hosts: readonly HostStatus[];
  /** The canary fleet's load balancer: where it answers, and the upstream servers its include file names now. */
  readonly nginx: { readonly url: string; readonly include: string; readonly servers: readonly string[]; readonly accessLog: string } | null;
  /** A cutover run holding the sandbox's deploy lock, and whether its process still runs here. */
  readonly lock: SandboxLock | null;
}

export interface SandboxLock {
  readonly runId: string;
  readonly task: string;
  readonly tag: string | null;
  readonly pid: number;
  readonly owner: string;
  readonly startedAt: string;
  /** Its process still runs on this machine. */
  readonly running: boolean;
}

const run = promisify(execFile);
const exists = (p: string) => stat(p).then(() => true, () => false);
const readPid = (file: string) => readFile(file, 'utf8').then((t) => Number(t.trim()) || null, () => null);

/** The units of one sandbox host folder: each one's service and journal writer. */
async function unitProcesses(hostRoot: string, portOf: (unit: string) => number | null, host?: string): Promise<SandboxProcess[]> {
  const processes: SandboxProcess[] = [];
  const running = new Set(runningUnitPids(hostRoot));
  const units = (await readdir(join(hostRoot, 'units')).catch(() => [] as string[])).filter((f) => f.endsWith('.service')).map((f) => f.slice(0, -8)).sort();
  const on = host ? { host } : {};
  for (const unit of units) {
    const pid = await readPid(join(hostRoot, 'run', `${unit}.pid`));
    const alive = pid !== null && running.has(pid) && isRunning(pid) ? pid : null;
    processes.push({ role: 'service', name: unit, ...on, pid: alive, startedAt: alive && processStartedAt(alive), port: portOf(unit) });
    // the writer runs the unit and is its journal: ours when its command line names this host's folder
    const writer = await readPid(join(hostRoot, 'run', `${unit}.writer`));
    const cmd = writer ? commandLineOf(writer) : null;
    const ours = writer !== null && isRunning(writer) && cmd !== null && cmd.includes('journal-writer.mjs') && cmd.includes(hostRoot) ? writer : null;
    processes.push({ role: 'journal writer', name: unit, ...on, pid: ours, startedAt: ours && processStartedAt(ours), port: null });
  }
  return processes;
}

function postgresProcess(dataDir: string, port: number | null, sharedWith?: string): SandboxProcess {
  const pm = postmasterPid(dataDir);
  return { role: 'postgres', name: 'postgres', pid: pm?.pid ?? null, startedAt: pm ? processStartedAt(pm.pid) : null, port: pm?.port ?? port, ...(sharedWith ? { sharedWith } : {}) };
}

export async function inspectSandbox(root: string, stateDir: string): Promise<SandboxStatus> {
  const state = await readState(join(root, 'state.json'));
  const lock = await lockOf(stateDir);
  if (isFleet(state) || (!state && (await exists(join(root, 'hosts'))))) return inspectFleet(root, isFleet(state) ? state : null, lock);
  const one = state && !isFleet(state) ? state : null;
  const hostRoot = one?.hostRoot ?? join(root, 'host');
  const processes = await unitProcesses(hostRoot, (unit) => (unit === one?.unit ? one.appPort : null));
  const dataDir = one?.pg?.dataDir ?? join(root, 'pg', 'data');
  if (one?.pg || (await exists(dataDir))) processes.push(postgresProcess(dataDir, one?.pg?.port ?? null));
  const service = processes.find((p) => p.role === 'service' && p.name === one?.unit);
  const health = one ? `${one.appUrl}/api/v1/health` : null;
  return {
    root, kind: 'host', created: state !== null, state, processes,
    health: health ? { url: health, status: service?.pid ? await healthStatus(health) : null } : null,
    release: one ? await releaseOf(one.appPath) : null,
    hosts: [], nginx: null, lock,
  };
}

async function inspectFleet(root: string, state: Extract<AnySandboxState, { kind: 'fleet' }> | null, lock: SandboxLock | null): Promise<SandboxStatus> {
  const hostRoots = state ? state.hosts.map((h) => ({ name: h.name, hostRoot: h.hostRoot })) :
    (await readdir(join(root, 'hosts')).catch(() => [] as string[])).sort().map((name) => ({ name, hostRoot: join(root, 'hosts', name) }));
  const processes: SandboxProcess[] = [];
  for (const h of hostRoots) processes.push(...(await unitProcesses(h.hostRoot, (unit) => (unit === state?.unit ? state.appPort : null), h.name)));
  const files = nginxFiles(state?.nginx?.dir ?? join(root, 'nginx'));
  if (state?.nginx || (await exists(files.conf))) {
    const pid = nginxMasterPid(files);
    processes.push({ role: 'nginx', name: 'nginx', pid, startedAt: pid && processStartedAt(pid), port: state?.nginx?.port ?? null });
  }
  if (state?.pg) processes.push(postgresProcess(state.pg.dataDir, state.pg.port, state.pg.sharedWith));
  const hosts = await Promise.all((state?.hosts ?? []).map(async (h): Promise<HostStatus> => {
    const service = processes.find((p) => p.role === 'service' && p.host === h.name && p.name === state!.unit);
    return { name: h.name, url: h.appUrl, health: service?.pid ? await healthStatus(`${h.appUrl}/api/v1/health`) : null, release: await releaseOf(join(h.mountSource, 'app')) };
  }));
  const include = await readFile(files.include, 'utf8').catch(() => '');
  const nginx = state?.nginx
    ? { url: state.nginx.url, include: files.include, servers: [...include.matchAll(/^\s*server\s+([^;]+);/gm)].map((m) => m[1]!.trim()), accessLog: files.accessLog }
    : null;
  return { root, kind: 'fleet', created: state !== null, state, processes, health: null, release: null, hosts, nginx, lock };
}

async function healthStatus(url: string): Promise<number | null> {
  try {
    // 5 s: a healthy service on a busy machine can take over 1 s; status would show it as down
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return null;
  }
}

async function releaseOf(appPath: string): Promise<string | null> {
  try {
    return (await run('git', ['-C', appPath, 'describe', '--tags', '--exact-match', 'HEAD'])).stdout.trim() || null;
  } catch {
    return null;
  }
}

async function lockOf(stateDir: string): Promise<SandboxLock | null> {
  const text = await readFile(lockFileIn(stateDir), 'utf8').catch(() => '');
  if (!text.trim()) return null;
  let parsed: ReturnType<typeof LockRecord.safeParse>;
  try {
    parsed = LockRecord.safeParse(JSON.parse(text));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const l = parsed.data;
  return { runId: l.runId, task: l.task, tag: l.tag, pid: l.pid, owner: l.owner, startedAt: l.startedAt, running: isRunning(l.pid) };
}
