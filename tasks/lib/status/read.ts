/**
 * status: what is deployed where, read-only. Per host (in parallel, one connection each) the
 * deployed tag, kept releases, services, one health GET and the lock; from the history on the
 * first host the live and rollback tags and the last deployments; the newest backup here.
 */
import path from 'node:path';
import type { Host } from '../config/schema.ts';
import { listBackups } from '../backup/retention.ts';
import { releasePaths, releases } from '../commands/releases.ts';
import { secretValues, type LoadedEnvironment } from '../config/load.ts';
import { HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { runnerFor } from '../runners/for-host.ts';
import { SshRunner } from '../runners/ssh.ts';
import type { Runner } from '../runners/types.ts';
import { readHistory } from '../state/history.ts';
import { lockStatus, type LockHolder } from '../state/lock.ts';
import { historyFileIn, stateDirOf } from '../state/paths.ts';
import { currentAndPrevious, deployments, type Deployment } from '../state/queries.ts';
import { getHealth } from '../verify/http-checks.ts';
import { readDeployed, serviceRows, type DeployedRead, type HostCtx } from '../verify/host-checks.ts';

/** One GET, short: status must answer fast even when a host is in trouble. */
export const STATUS_HEALTH_TIMEOUT_MS = 2000;

export interface HostStatus {
  readonly name: string;
  readonly address: string;
  /** Why SSH could not reach it (then only health is known). */
  readonly unreachable?: string;
  readonly deployed?: DeployedRead;
  /** releases strategy: folder names, oldest first. */
  readonly releases?: readonly string[];
  readonly services: readonly { readonly name: string; readonly ok: boolean; readonly state: string }[];
  readonly health: { readonly status: number | null; readonly version?: string; readonly latencyMs: number; readonly error?: string };
  /** Only the first host holds the lock: undefined elsewhere, null when free. */
  readonly lock?: LockHolder | null | { readonly problem: string };
}

export interface DeploymentLine {
  readonly runId: string;
  readonly task: string;
  readonly who: string | null;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly result: string | null;
  readonly live: string | null;
  /** The dump's file name, `skipped: <reason>`, or null. */
  readonly backup: string | null;
  /** Only these hosts (a deploy limited with --hosts or --tag). */
  readonly hosts?: readonly string[];
  readonly error?: string;
}

export interface EnvStatus {
  readonly env: string;
  readonly file: string;
  readonly description?: string;
  readonly hosts: readonly HostStatus[];
  readonly history:
    | { readonly ok: true; readonly where: string; readonly current: string | null; readonly previous: string | null; readonly rollbackTarget: string | null; readonly skipped: number }
    | { readonly ok: false; readonly where: string; readonly problem: string };
  /** Newest first. */
  readonly deployments: readonly DeploymentLine[];
  readonly totalDeployments: number;
  readonly backup: { readonly file: string; readonly createdAt: string; readonly ageMs: number; readonly verified: boolean | null; readonly count: number; readonly dir: string } | null;
}

export function deploymentLine(d: Deployment): DeploymentLine {
  const duration = d.startedAt && d.finishedAt ? Date.parse(d.finishedAt) - Date.parse(d.startedAt) : null;
  return {
    runId: d.runId,
    task: d.task,
    who: d.who,
    startedAt: d.startedAt,
    finishedAt: d.finishedAt,
    durationMs: duration,
    from: d.from,
    to: d.to,
    result: d.result,
    live: d.live,
    backup: d.backupFile ? path.basename(d.backupFile) : d.skipBackupReason ? `skipped: ${d.skipBackupReason}` : null,
    ...(d.hosts !== undefined ? { hosts: d.hosts } : {}),
    ...(d.error !== undefined ? { error: d.error } : {}),
  };
}

async function hostStatus(env: LoadedEnvironment, host: Host, runner: Runner, primary: boolean): Promise<HostStatus> {
  const secrets = secretValues(env);
  const healthP = getHealth(env.config.verify.health, { address: host.address, secrets }, STATUS_HEALTH_TIMEOUT_MS);
  const health = async () => {
    const h = await healthP;
    return h.out.kind === 'answer'
      ? { status: h.out.status, latencyMs: h.out.latencyMs, ...(h.version?.ok ? { version: h.version.version } : {}) }
      : { status: null, latencyMs: h.out.latencyMs, error: h.out.error };
  };
  try {
    if (runner instanceof SshRunner) await runner.connect();
  } catch (err) {
    if (!(err instanceof HostUnreachableError || err instanceof HostKeyError)) throw err;
    return { name: host.name, address: host.address, unreachable: err.message, services: [], health: await health() };
  }
  const c: HostCtx = { runner, secrets, now: Date.now };
  const isReleases = env.config.app.strategy === 'releases';
  const [deployed, rels, services, lock] = await Promise.all([
    readDeployed(env, c),
    isReleases ? runner.exec(releases.list(releasePaths(env.config.app.path)), { timeoutMs: 15_000 }) : null,
    serviceRows(env.config.services, c),
    primary ? lockStatus(runner, stateDirOf(env.config.app)).catch((err: Error) => ({ problem: err.message })) : undefined,
  ]);
  return {
    name: host.name,
    address: host.address,
    deployed,
    ...(rels ? { releases: rels.stdout.split('\n').filter(Boolean) } : {}),
    services: services.map((r) => ({ name: r.check.replace(/^service /, ''), ok: r.verdict === 'ok', state: r.value })),
    health: await health(),
    ...(primary ? { lock } : {}),
  };
}

export async function gatherStatus(env: LoadedEnvironment, hosts: readonly Host[], last: number, nowMs = Date.now()): Promise<EnvStatus> {
  const runners = hosts.map((h) => runnerFor(env, h));
  try {
    const stateDir = stateDirOf(env.config.app);
    const where = `${hosts[0]!.name}:${historyFileIn(stateDir)}`;
    // the history is read alongside the first host's other reads (the connection is shared)
    const historyP = readHistory(runners[0]!, stateDir).then(
      (read) => read,
      (err: Error) => err,
    );
    const [statuses, backups, read] = await Promise.all([Promise.all(hosts.map((h, i) => hostStatus(env, h, runners[i]!, i === 0))), listBackups(env.backupDir), historyP]);
    let history: EnvStatus['history'];
    let runs: Deployment[] = [];
    if (read instanceof Error) history = { ok: false, where, problem: statuses[0]!.unreachable ? `${hosts[0]!.name} is unreachable` : read.message };
    else {
      runs = deployments(read.events);
      const live = currentAndPrevious(read.events);
      // what `rollback` without a tag goes back to (tasks/lib/deploy/rollback.ts chooseRollback)
      history = { ok: true, where, current: live.current, previous: live.previous, rollbackTarget: live.previous, skipped: read.skipped.length };
    }
    const newest = backups[0];
    return {
      env: env.name,
      file: env.file,
      ...(env.config.description ? { description: env.config.description } : {}),
      hosts: statuses,
      history,
      deployments: runs.slice(-last).reverse().map(deploymentLine),
      totalDeployments: runs.length,
      backup: newest
        ? {
            file: newest.manifest.file,
            createdAt: newest.manifest.createdAt,
            ageMs: nowMs - Date.parse(newest.manifest.createdAt),
            verified: newest.manifest.verified ? newest.manifest.verified.ok : null,
            count: backups.length,
            dir: env.backupDir,
          }
        : null,
    };
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}

