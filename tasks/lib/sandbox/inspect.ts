/**
 * What a sandbox on this machine runs: its units (the demo service and the journal writer that
 * runs it), its PostgreSQL server, with their pids checked against what runs now (a pid file can
 * outlive its process, and a pid can be reused), its ports, health, release and lock. Read-only.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commandLineOf, isRunning, processStartedAt, runningUnitPids } from '../../../sandbox/host.ts';
import { postmasterPid } from '../../../sandbox/postgres.ts';
import { readState, type SandboxState } from '../../../sandbox/provision.ts';
import { lockFileIn } from '../state/paths.ts';
import { LockRecord } from '../state/records.ts';

export type ProcessRole = 'service' | 'journal writer' | 'postgres';

export interface SandboxProcess {
  readonly role: ProcessRole;
  /** The unit it belongs to (`demo-chat`), or `postgres`. */
  readonly name: string;
  /** null: not running (nothing recorded, or the recorded process is gone). */
  readonly pid: number | null;
  /** When it started (epoch ms, from /proc): with the pid, the identity of the process. */
  readonly startedAt: number | null;
  readonly port: number | null;
}

export interface SandboxStatus {
  readonly root: string;
  /** state.json is there: the sandbox was created completely. */
  readonly created: boolean;
  readonly state: SandboxState | null;
  readonly processes: readonly SandboxProcess[];
  /** The demo service's health endpoint and what it answered (null: no answer). */
  readonly health: { readonly url: string; readonly status: number | null } | null;
  /** The release tag checked out in the sandbox host's app folder. */
  readonly release: string | null;
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

export async function inspectSandbox(root: string, stateDir: string): Promise<SandboxStatus> {
  const state = await readState(join(root, 'state.json'));
  const hostRoot = state?.hostRoot ?? join(root, 'host');
  const processes: SandboxProcess[] = [];
  const running = new Set(runningUnitPids(hostRoot));
  const units = (await readdir(join(hostRoot, 'units')).catch(() => [] as string[])).filter((f) => f.endsWith('.service')).map((f) => f.slice(0, -8)).sort();
  const port = (unit: string) => (unit === state?.unit ? state.appPort : null);
  for (const unit of units) {
    const pid = await readPid(join(hostRoot, 'run', `${unit}.pid`));
    const alive = pid !== null && running.has(pid) && isRunning(pid) ? pid : null;
    processes.push({ role: 'service', name: unit, pid: alive, startedAt: alive && processStartedAt(alive), port: port(unit) });
    // the writer runs the unit and is its journal: ours when its command line names this host's folder
    const writer = await readPid(join(hostRoot, 'run', `${unit}.writer`));
    const cmd = writer ? commandLineOf(writer) : null;
    const ours = writer !== null && isRunning(writer) && cmd !== null && cmd.includes('journal-writer.mjs') && cmd.includes(hostRoot) ? writer : null;
    processes.push({ role: 'journal writer', name: unit, pid: ours, startedAt: ours && processStartedAt(ours), port: null });
  }
  const dataDir = state?.pg?.dataDir ?? join(root, 'pg', 'data');
  if (state?.pg || (await exists(dataDir))) {
    const pm = postmasterPid(dataDir);
    processes.push({ role: 'postgres', name: 'postgres', pid: pm?.pid ?? null, startedAt: pm ? processStartedAt(pm.pid) : null, port: pm?.port ?? state?.pg?.port ?? null });
  }
  const service = processes.find((p) => p.role === 'service' && p.name === state?.unit);
  return {
    root,
    created: state !== null,
    state,
    processes,
    health: state ? { url: `${state.appUrl}/api/v1/health`, status: service?.pid ? await healthStatus(`${state.appUrl}/api/v1/health`) : null } : null,
    release: state ? await releaseOf(state.appPath) : null,
    lock: await lockOf(stateDir),
  };
}

async function healthStatus(url: string): Promise<number | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
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
