/**
 * Stopping a sandbox, by pid, and confirming it: the units' process groups (SIGTERM, SIGKILL after
 * 5 s) on its host or on every host of the fleet, the journal writers (they end with their unit; one
 * left over is stopped by its pid), the fleet's nginx (its pid file: SIGQUIT, then SIGTERM, SIGKILL),
 * the PostgreSQL server (pg_ctl stop -m fast, else signals to its postmaster) unless it is another
 * sandbox's. A process counts as stopped only when that pid no longer runs that process (same start time).
 */
import { join } from 'node:path';
import { isRunning, processStartedAt, stopHostUnits } from '../../../sandbox/host.ts';
import { nginxFiles, stopNginx } from '../../../sandbox/nginx.ts';
import { stopCluster } from '../../../sandbox/postgres.ts';
import { isFleet } from '../../../sandbox/state.ts';
import type { SandboxProcess, SandboxStatus } from './inspect.ts';

export interface StopResult {
  /** Processes that ran and are gone now. */
  readonly stopped: readonly SandboxProcess[];
  /** Processes still running after everything was tried: a human must look. */
  readonly stillRunning: readonly SandboxProcess[];
}

/** The same process still runs: the pid is alive and started when it did (a reused pid is another process). */
export function stillRuns(p: SandboxProcess): boolean {
  if (p.pid === null || !isRunning(p.pid)) return false;
  const started = processStartedAt(p.pid);
  return p.startedAt === null || started === null || Math.abs(started - p.startedAt) < 1000;
}

async function waitGone(ps: readonly SandboxProcess[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (ps.some(stillRuns) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

function signal(p: SandboxProcess, sig: NodeJS.Signals): void {
  if (!stillRuns(p)) return;
  try {
    process.kill(p.pid!, sig);
  } catch {
    // gone meanwhile
  }
}

export async function stopSandbox(status: SandboxStatus): Promise<StopResult> {
  const running = status.processes.filter((p) => !p.sharedWith && stillRuns(p));
  const fleet = isFleet(status.state) ? status.state : null;
  const hostRoots = fleet
    ? fleet.hosts.map((h) => h.hostRoot)
    : status.kind === 'fleet'
      ? [...new Set(status.processes.flatMap((p) => (p.host ? [join(status.root, 'hosts', p.host)] : [])))] // never completely created
      : [status.state && !isFleet(status.state) ? status.state.hostRoot : join(status.root, 'host')];
  const writers = running.filter((p) => p.role === 'journal writer');
  const server = running.find((p) => p.role === 'postgres');

  await Promise.all(hostRoots.map((root) => stopHostUnits(root)));
  if (running.some((p) => p.role === 'nginx')) await stopNginx(nginxFiles(fleet?.nginx?.dir ?? join(status.root, 'nginx')));
  await waitGone(writers, 5000);
  for (const w of writers) signal(w, 'SIGTERM');
  await waitGone(writers, 2000);
  for (const w of writers) signal(w, 'SIGKILL');
  if (server) {
    await stopCluster(status.state?.pg?.dataDir ?? join(status.root, 'pg', 'data')).catch(() => null);
    await waitGone([server], 10_000);
    signal(server, 'SIGKILL');
  }
  await waitGone(running, 2000);
  return { stopped: running.filter((p) => !stillRuns(p)), stillRunning: running.filter(stillRuns) };
}
