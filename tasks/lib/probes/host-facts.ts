/**
 * What is on a host, read-only: shared by doctor (a table for people), the deploy and rollback
 * preflight (typed facts for the plan), verify and status. Everything a preflight needs comes back
 * from ONE command per host (commands/preflight.ts): a round trip costs more than the reads.
 */
import { Writable } from 'node:stream';
import type { Service } from '../config/schema.ts';
import { git } from '../commands/git.ts';
import { parseWhich } from '../commands/host.ts';
import { hostReads } from '../commands/host-reads.ts';
import { preflightScript } from '../commands/preflight.ts';
import { releasePaths, releases, tagOfRelease } from '../commands/releases.ts';
import { parseSections, type SectionOutput } from '../commands/sections.ts';
import type { Command } from '../commands/shell.ts';
import { secret, type LoadedEnvironment } from '../config/load.ts';
import { deployedAnswerProblem } from '../base/revisions.ts';
import type { Deployed } from '../base/run.ts';
import { lastLines } from '../runners/run.ts';
import type { ExecOptions, ExecResult, Runner } from '../runners/types.ts';

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

/** What the host preflight may read besides commands, units and the working copy (see commands/preflight.ts). */
export interface FactsAsk {
  /** Does the remote have this tag? */
  readonly remoteTag?: string;
  /** Fetch the tags first (in place: the working copy; releases: the mirror). Not read-only: real runs only. */
  readonly fetch?: boolean;
  /** The plan's commits and migration files, from what runs to this tag (after the fetch). */
  readonly planTag?: string;
  readonly releases?: boolean;
  /** The tags the repository has (in place: the working copy; releases: the mirror). */
  readonly localTags?: boolean;
  /** This is the state host: its lock, and its history's presence or text. */
  readonly state?: { readonly dir: string; readonly history: 'exists' | 'read' };
  /** The database's size (pg_database_size), asked from this host. */
  readonly db?: boolean;
}

export type Answer<T> = ({ readonly ok: true } & T) | { readonly ok: false; readonly why: string };

export interface PlanFacts {
  /** Commits from what runs to the tag, and the first PLAN_COMMITS of them (newest first). */
  readonly count: number;
  readonly commits: string[];
  /** Migration files the tag adds or changes (when app.migrationsDir is set). */
  readonly changed?: string[];
}

export interface PreflightFacts extends HostFacts {
  /** `missing`: the remote answered that it has no such tag. */
  readonly remoteTag?: Answer<object> & { readonly missing?: boolean };
  readonly fetch?: Answer<object>;
  readonly plan?: Answer<PlanFacts>;
  readonly releases?: string[];
  /** The tags the host's repository has ([] when they could not be read: the caller fetches). */
  readonly localTags?: string[];
  /** `lock.status`'s answer (`free` or a `held ...` block), or null when it could not be read. */
  readonly lock?: string | null;
  readonly history?: Answer<{ readonly exists: boolean; readonly text: string }>;
  readonly dbSize?: Answer<{ readonly bytes: number }>;
}

function unitsOf(env: LoadedEnvironment) {
  return env.config.services.filter((s) => s.unit).map((s) => ({ unit: s.unit!, sudo: s.sudo }));
}

/** The one preflight command for a host of this environment (builders: commands/preflight.ts). */
export function preflightFor(env: LoadedEnvironment, ask: FactsAsk = {}): Command {
  const { app, database, services } = env.config;
  const releasesMode = app.strategy === 'releases';
  const dir = workTreeOf(env);
  const p = releasePaths(app.path);
  const gitDir = releasesMode ? p.repo : app.path;
  return preflightScript({
    commands: requiredCommands(env),
    units: unitsOf(env),
    statusCommands: services.filter((s) => s.commands).map((s) => s.commands!.status),
    deployed: { workTree: dir, ...(releasesMode ? { currentLink: dir } : {}), dirty: !releasesMode },
    ...(ask.remoteTag ? { remoteTag: releasesMode ? { tag: ask.remoteTag, repo: app.repo } : { tag: ask.remoteTag, dir: app.path } } : {}),
    ...(ask.fetch ? { fetch: releasesMode ? releases.prepareRepo(p, app.repo) : git.fetchTags(app.path) } : {}),
    ...(ask.planTag ? { plan: { workTree: dir, gitDir, tag: ask.planTag, ...(app.migrationsDir ? { migrationsDir: app.migrationsDir } : {}) } } : {}),
    ...(ask.releases && releasesMode ? { releasesDir: p.releases } : {}),
    ...(ask.localTags ? { localTags: gitDir } : {}),
    ...(ask.state ? { state: ask.state } : {}),
    ...(ask.db && database ? { db: { target: database, ...(secret(env, database.password) !== undefined ? { password: secret(env, database.password)! } : {}) } } : {}),
  });
}

/** Runs a command and keeps ALL of its standard output (the runners keep only a tail of it). */
export async function execWhole(runner: Runner, cmd: Command, opts: ExecOptions = {}): Promise<{ result: ExecResult; text: string }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  const result = await runner.exec(cmd, { ...opts, sink });
  // a runner that answers without streaming (the recorder) gives its stdout instead
  const text = chunks.length ? Buffer.concat(chunks).toString('utf8') : result.stdout;
  return { result, text };
}

const lastLine = (t: string) => lastLines(t, 1).trim();

/**
 * Every fact of one host in ONE round trip: commands, units and their state, the working copy and
 * the tag it is on, and what `ask` adds. Connection and host-key errors propagate (the first command
 * connects); a host that answered only part of it says so in each missing fact.
 */
export async function readHostFacts(env: LoadedEnvironment, runner: Runner, ask: FactsAsk = {}, opts: { signal?: AbortSignal; timeoutMs?: number; thenMore?: boolean } = {}): Promise<PreflightFacts> {
  const { result, text } = await execWhole(runner, preflightFor(env, ask), { timeoutMs: opts.timeoutMs ?? 120_000, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.thenMore ? { thenMore: true } : {}) });
  const got = parseSections(text);
  const cut = `the host did not answer it (${result.error ?? `the preflight command exited ${result.code}`}${result.stderr ? `: ${lastLine(result.stderr)}` : ''})`;
  const section = (name: string) => got.get(name);
  const needed = requiredCommands(env);
  const found = parseWhich(section('which')?.out ?? '');
  const states = (section('active')?.out ?? '').split('\n');
  let unitIndex = 0;
  let statusIndex = 0;
  const services: ServiceState[] = env.config.services.map((s) => {
    if (s.commands) {
      const r = section(`status:${statusIndex++}`);
      if (!r) return { service: s, exists: true, active: false, state: `status not read: ${cut}` };
      return { service: s, exists: true, active: r.code === 0, state: r.code === 0 ? 'active' : `status exits ${r.code}: ${lastLine(r.out)}` };
    }
    const i = unitIndex++;
    const e = section(`unit:${i}`);
    if (!e) return { service: s, exists: false, active: false, state: `not read: ${cut}` };
    if (e.code !== 0) return { service: s, exists: false, active: false, state: lastLine(e.out) || `exit ${e.code}` };
    return { service: s, exists: true, active: states[i] === 'active', state: states[i]?.trim() || 'unknown' };
  });
  const d = section('deployed');
  const deployed = d ? deployedFrom(env, d.code, d.out) : ({ ok: false, problem: `${workTreeOf(env)}: ${cut}` } as const);
  const facts: PreflightFacts = {
    missing: section('which') ? needed.filter((n) => !found.get(n)) : needed,
    present: needed.filter((n) => found.get(n)),
    services,
    ...factsOfDeployed(deployed),
  };
  return { ...facts, ...askedFacts(ask, section, cut) };
}

/** Why a git command that talks to the remote failed: git's own `fatal:` line (the advice after it says less), else its last lines. */
export function gitFailure(r: SectionOutput): string {
  const fatal = r.out.split('\n').find((l) => /^(fatal|error): /.test(l));
  return fatal?.trim() || lastLines(r.out, 2).trim() || `exit ${r.code}`;
}

function askedFacts(ask: FactsAsk, section: (name: string) => SectionOutput | undefined, cut: string): Partial<PreflightFacts> {
  const out: { -readonly [K in keyof PreflightFacts]?: PreflightFacts[K] } = {};
  const answer = <T extends object>(name: string, ok: (r: SectionOutput) => Answer<T>): Answer<T> => {
    const r = section(name);
    return r ? ok(r) : { ok: false, why: cut };
  };
  if (ask.remoteTag) {
    const r = section('remote-tag');
    out.remoteTag = !r ? { ok: false, why: cut } : r.code === 0 ? { ok: true } : { ok: false, missing: r.code === 2, why: gitFailure(r) };
  }
  if (ask.fetch) out.fetch = answer('fetch', (r) => (r.code === 0 ? { ok: true } : { ok: false, why: gitFailure(r) }));
  if (ask.localTags) {
    const r = section('tags');
    out.localTags = r?.code === 0 ? r.out.split('\n').filter(Boolean) : [];
  }
  if (ask.planTag) {
    out.plan = answer<PlanFacts>('log', (r) => {
      if (r.code !== 0) return { ok: false, why: lastLine(r.out) || `exit ${r.code}` };
      const [count, ...commits] = r.out.split('\n');
      const changed = section('changed');
      return { ok: true, count: Number(count), commits: commits.filter(Boolean), ...(changed && changed.code === 0 ? { changed: changed.out.split('\n').filter(Boolean) } : {}) };
    });
  }
  if (ask.releases) out.releases = (section('releases')?.out ?? '').split('\n').filter(Boolean);
  if (ask.state) {
    const l = section('lock');
    out.lock = l && l.code === 0 ? `${l.out}\n` : null;
    const h = section('history');
    out.history = !h ? { ok: false, why: cut } : ask.state.history === 'read' ? (h.code === 0 ? { ok: true, exists: h.out.trim() !== '', text: h.out } : { ok: false, why: lastLine(h.out) || `exit ${h.code}` }) : { ok: true, exists: h.code === 0, text: '' };
  }
  if (ask.db) out.dbSize = answer('db', (r) => (r.code === 0 && /^\d+$/.test(r.out.trim()) ? { ok: true, bytes: Number(r.out.trim()) } : { ok: false, why: lastLines(r.out, 2).trim() || `exit ${r.code}` }));
  return out;
}

/** Connects (the first command does) and reads, in one round trip; connection and host-key errors propagate. */
export async function inspectHost(env: LoadedEnvironment, runner: Runner): Promise<HostFacts> {
  return readHostFacts(env, runner);
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
  return deployedFrom(env, r.code, r.stdout, lastLines(r.stderr, 1) || r.error);
}

/** `hostReads.deployed`'s answer, checked: `why` is what the host said when it failed (its last line, by default). */
function deployedFrom(env: LoadedEnvironment, code: number | null, stdout: string, why?: string): DeployedRead {
  const dir = workTreeOf(env);
  const releasesMode = env.config.app.strategy === 'releases';
  if (code !== 0) {
    const reason = why || lastLines(stdout, 1) || `exit ${code}`;
    const hint = releasesMode ? 'no release yet? the first deploy needs one made by hand' : `clone ${env.config.app.repo} there first`;
    return { ok: false, problem: `${dir} is not a git working copy (${reason}); ${hint}` };
  }
  const lines = stdout.split('\n');
  const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? '';
  const answer = { tag: value('tag') || null, commit: value('commit'), release: value('release') || null };
  // what the host says it runs is input: a tag like `--output=x` is reported, never used
  const problem = deployedAnswerProblem(dir, answer);
  if (problem) return { ok: false, problem };
  return { ok: true, ...answer, dirty: lines.filter((l) => l.startsWith('dirty=')).map((l) => l.slice('dirty='.length)) };
}

/** What the host runs, checked: a tag or commit that cannot be used safely becomes `workTreeProblem`. */
function factsOfDeployed(d: DeployedRead): Pick<HostFacts, 'deployed' | 'workTreeProblem' | 'dirty'> {
  if (!d.ok) return { workTreeProblem: d.problem, dirty: [] };
  // releases: `current` may point at a release of a tag HEAD does not name exactly
  const tag = d.tag ?? (d.release ? tagOfRelease(d.release) : undefined);
  return { deployed: { ...(tag ? { tag } : {}), commit: d.commit, ...(d.release ? { release: d.release } : {}) }, dirty: [...d.dirty] };
}
