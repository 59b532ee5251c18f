/**
 * What is on a host, read-only: shared by doctor (a table for people) and the deploy preflight
 * (typed facts for the plan). Independent reads run in parallel over the host's one connection.
 */
import type { Service } from '../config/schema.ts';
import { parseWhich, whichCommands } from '../commands/host.ts';
import { hostReads } from '../commands/host-reads.ts';
import { tagOfRelease } from '../commands/releases.ts';
import { command, raw } from '../commands/shell.ts';
import { systemd } from '../commands/systemd.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { deployedAnswerProblem } from '../base/revisions.ts';
import type { Deployed } from '../base/run.ts';
import { lastLines } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';

/** Commands cutover runs on a host, for this environment's configuration. */
export function requiredCommands(env: LoadedEnvironment): string[] {
  const { services, database } = env.config;
  // flock, mktemp, stat: the deploy lock and the history (tasks/lib/commands/lock.ts); timeout: command
  // time limits; pgrep: stopping an interrupted command's processes
  const names = ['bash', 'git', 'flock', 'mktemp', 'stat', 'timeout', 'pgrep'];
  if (services.some((s) => s.unit)) names.push('systemctl', 'journalctl');
  if (services.some((s) => s.unit && s.sudo)) names.push('sudo');
  if (database?.dumpOn === 'host') names.push('pg_dump', 'psql');
  return names;
}

/** Where the app's git working copy is: the folder itself, or `current` for releases. */
export function workTreeOf(env: LoadedEnvironment): string {
  const { app } = env.config;
  return app.strategy === 'releases' ? `${app.path}/current` : app.path;
}

export interface ServiceState {
  readonly service: Service;
  /** false: the unit file does not exist (systemd), or n/a for custom commands. */
  readonly exists: boolean;
  readonly active: boolean;
  /** `active`, `inactive`, `failed`, or the custom status command's complaint. */
  readonly state: string;
}

export interface HostFacts {
  readonly missing: string[];
  readonly present: string[];
  readonly services: ServiceState[];
  /** What runs now; undefined with `workTreeProblem` set when there is no working copy. */
  readonly deployed?: Deployed;
  readonly workTreeProblem?: string;
  /** Tracked files changed by hand (in-place only). */
  readonly dirty: string[];
}

/** Connects (the first command does) and reads; connection and host-key errors propagate. */
export async function inspectHost(env: LoadedEnvironment, runner: Runner): Promise<HostFacts> {
  const needed = requiredCommands(env);
  const found = parseWhich((await runner.exec(whichCommands(needed))).stdout);
  const [deployed, services] = await Promise.all([deployedFacts(env, runner), Promise.all(env.config.services.map((s) => serviceState(s, runner)))]);
  return {
    missing: needed.filter((n) => !found.get(n)),
    present: needed.filter((n) => found.get(n)),
    services,
    ...deployed,
  };
}

/** What a host says it runs, read in one round trip; a tag or commit it answers that is not valid is a problem, never used. */
export type DeployedRead =
  | { readonly ok: true; readonly tag: string | null; readonly commit: string; readonly release: string | null; readonly dirty: readonly string[] }
  | { readonly ok: false; readonly problem: string };

/** The one reader of what a host runs: doctor, the deploy preflight, verify and status all use it. */
export async function readDeployed(env: LoadedEnvironment, runner: Runner, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<DeployedRead> {
  const dir = workTreeOf(env);
  const releasesMode = env.config.app.strategy === 'releases';
  const r = await runner.exec(hostReads.deployed(dir, { ...(releasesMode ? { currentLink: dir } : {}), dirty: !releasesMode }), opts);
  if (r.code !== 0) {
    const why = lastLines(r.stderr, 1) || r.error || `exit ${r.code}`;
    const hint = releasesMode ? 'no release yet? the first deploy needs one made by hand' : `clone ${env.config.app.repo} there first`;
    return { ok: false, problem: `${dir} is not a git working copy (${why}); ${hint}` };
  }
  const lines = r.stdout.split('\n');
  const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
  const answer = { tag: value('tag') || null, commit: value('commit'), release: value('release') || null };
  // what the host says it runs is input: a tag like `--output=x` is reported, never used
  const problem = deployedAnswerProblem(dir, answer);
  if (problem) return { ok: false, problem };
  return { ok: true, ...answer, dirty: lines.filter((l) => l.startsWith('dirty=')).map((l) => l.slice('dirty='.length)) };
}

/** What the host runs, checked: a tag or commit that cannot be used safely becomes `workTreeProblem`. */
export async function deployedFacts(env: LoadedEnvironment, runner: Runner): Promise<Pick<HostFacts, 'deployed' | 'workTreeProblem' | 'dirty'>> {
  const d = await readDeployed(env, runner);
  if (!d.ok) return { workTreeProblem: d.problem, dirty: [] };
  // releases: `current` may point at a release of a tag HEAD does not name exactly
  const tag = d.tag ?? (d.release ? tagOfRelease(d.release) : undefined);
  return { deployed: { ...(tag ? { tag } : {}), commit: d.commit, ...(d.release ? { release: d.release } : {}) }, dirty: [...d.dirty] };
}

async function serviceState(s: Service, runner: Runner): Promise<ServiceState> {
  if (s.commands) {
    const r = await runner.exec(command(raw(s.commands.status), { readOnly: true }));
    return { service: s, exists: true, active: r.code === 0, state: r.code === 0 ? 'active' : `status exits ${r.code}: ${lastLines(r.stderr || r.stdout, 1)}` };
  }
  const exists = await runner.exec(systemd.unitExists(s.unit!, s.sudo));
  if (exists.code !== 0) return { service: s, exists: false, active: false, state: lastLines(exists.stderr, 1) || `exit ${exists.code}` };
  const active = await runner.exec(systemd.isActive([s.unit!]));
  return { service: s, exists: true, active: active.code === 0, state: active.stdout.trim() || 'unknown' };
}
