// Everything a test run starts is recorded in .test-runs/<pid of the recording process>.json so that
// it is stopped at exit, and a crashed run's leftovers are stopped by the next run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStartedAt, runningUnitPids, signalGroup, stopHostUnits } from '../../sandbox/host.ts';

export const RUNS_DIR = fileURLToPath(new URL('../../.test-runs', import.meta.url));

interface Tracked { pid: number; marker: string; startedAt: number; signal: NodeJS.Signals; label: string }
interface RunFile { owner: { pid: number; startedAt: number }; processes: Tracked[]; hostRoots: string[] }

const self: RunFile = { owner: { pid: process.pid, startedAt: processStartedAt(process.pid) ?? 0 }, processes: [], hostRoots: [] };
const ownFile = join(RUNS_DIR, `${process.pid}.json`);
let hooked = false;

const cmdlineOf = (pid: number): string | null => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return null;
  }
};

// Same pid, same start time, command line still holds the marker: the process we started, not a recycled pid.
// (A marker, not the whole command line: sshd rewrites its title to "sshd: /usr/sbin/sshd -D ... [listener] ...".)
const isSameProcess = (p: Tracked): boolean =>
  (cmdlineOf(p.pid)?.includes(p.marker) ?? false) && Math.abs((processStartedAt(p.pid) ?? -1e9) - p.startedAt) < 1000;

function save(): void {
  mkdirSync(RUNS_DIR, { recursive: true });
  if (self.processes.length || self.hostRoots.length) writeFileSync(ownFile, JSON.stringify(self, null, 1));
  else rmSync(ownFile, { force: true });
}

function signal(p: Tracked, sig: NodeJS.Signals): void {
  try {
    process.kill(p.pid, sig);
  } catch {}
}

/** Signals every process and unit this process tracks (synchronous: usable in an 'exit' handler). */
export function killTracked(): void {
  for (const p of self.processes) if (isSameProcess(p)) signal(p, p.signal);
  for (const root of self.hostRoots) for (const pid of runningUnitPids(root)) signalGroup(pid, 'SIGTERM');
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killTracked);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killTracked();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig); // nobody else handles it: die as we would have
    });
  }
}

/**
 * Records a started process. `marker` is a string its /proc/<pid>/cmdline keeps for life (e.g. a config or
 * data path unique to this run); `signal` is what stops it (postgres: SIGINT = fast shutdown).
 */
export function trackProcess(pid: number, opts: { label: string; marker: string; signal?: NodeJS.Signals }): void {
  if (!cmdlineOf(pid)?.includes(opts.marker)) return;
  self.processes.push({ pid, marker: opts.marker, startedAt: processStartedAt(pid) ?? 0, signal: opts.signal ?? 'SIGTERM', label: opts.label });
  hook();
  save();
}

export function untrackProcess(pid: number): void {
  self.processes = self.processes.filter((p) => p.pid !== pid);
  save();
}

/** Records a sandbox host root whose units (started over SSH) must be stopped after a crash. */
export function trackHostRoot(root: string): void {
  self.hostRoots.push(root);
  hook();
  save();
}

export function untrackHostRoot(root: string): void {
  self.hostRoots = self.hostRoots.filter((r) => r !== root);
  save();
}

/** Stops what earlier runs left behind: files whose recording process is gone. Concurrent runs are left alone. */
export async function cleanupEarlierRuns(): Promise<string[]> {
  const stopped: string[] = [];
  let files: string[];
  try {
    files = readdirSync(RUNS_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return stopped;
  }
  for (const file of files) {
    const path = join(RUNS_DIR, file);
    let run: RunFile;
    try {
      run = JSON.parse(readFileSync(path, 'utf8')) as RunFile;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    const ownerAlive = Math.abs((processStartedAt(run.owner.pid) ?? -1e9) - run.owner.startedAt) < 1000;
    if (ownerAlive) continue;
    const leftovers = run.processes.filter(isSameProcess);
    for (const p of leftovers) {
      signal(p, p.signal);
      stopped.push(`${p.label} (pid ${p.pid})`);
    }
    const deadline = Date.now() + 5000;
    while (leftovers.some(isSameProcess) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const p of leftovers.filter(isSameProcess)) signal(p, 'SIGKILL');
    for (const root of run.hostRoots) await stopHostUnits(root);
    rmSync(path, { force: true });
  }
  return stopped;
}

/** SIGKILL a process and all its descendants, collected first so none is re-parented away (a controller that dies with its laptop, and whatever it had started). */
export function killTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childPids(all[i]!));
  for (const p of all) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return all;
}

/**
 * Sends `sig` to a task the tests started (test/support/task-process.ts: the task's own node
 * process, with no tsx CLI in front). Through the tsx CLI a signal goes through its relay, which
 * waits 30 ms for the child to report it over IPC, signals it again (cutover takes that echo as
 * the same Ctrl-C) and, 30 ms later still unreported, SIGKILLs it: on a busy machine one Ctrl-C can
 * become a kill. What these tests check is cutover's own handling; the relay has its own test
 * (test/integration/interrupt.test.ts).
 */
export function signalTask(taskPid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(taskPid, sig);
    return true;
  } catch {
    return false;
  }
}

/** The direct children of `pid`. */
function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((x) => Number(x.trim())).filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}
