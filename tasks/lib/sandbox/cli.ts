/** The body of tasks/sandbox.ts: status, stop, reset of the sandbox of this clone. Returns the exit code. */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ageText } from '../base/format.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, type LoadedEnvironment } from '../config/load.ts';
import { hostPath } from '../runners/mount-namespace.ts';
import { stateDirOf } from '../state/paths.ts';
import { isFleet, readState } from '../../../sandbox/state.ts';
import { inspectSandbox, type SandboxProcess, type SandboxStatus } from './inspect.ts';
import { stopSandbox, type StopResult } from './stop.ts';

export const ACTIONS = ['status', 'stop', 'reset'] as const;
type Action = (typeof ACTIONS)[number];

const ROLE: Record<SandboxProcess['role'], string> = { service: 'service', 'journal writer': 'journal writer', postgres: 'PostgreSQL', nginx: 'nginx' };

export async function sandboxTask(args: ParsedArgs): Promise<ExitCode> {
  const action = args.positionals[0] ?? 'status';
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`unknown action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}. See: npx tsx tasks/sandbox.ts --help`);
  const json = flag(args, 'json');
  const say = (t: string) => (json ? process.stderr : process.stdout).write(`${t}\n`);
  const out = (doc: unknown) => json && process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const sb = env.config.sandbox;
  if (!sb) throw new UsageError(`${env.file} has no sandbox: tasks/sandbox.ts looks after the built-in sandboxes (--env local, --env local-canary). Nothing was changed.`);
  const status = await inspectSandbox(path.resolve(sb.root), lockDirOf(env));
  if (action === 'status') {
    statusLines(env, status).forEach((l) => say(l));
    out({ action, env: env.name, ...statusDoc(status) });
    return ExitCode.ok;
  }
  return change(action as Exclude<Action, 'status'>, env, status, say, out);
}

/** The state host's lock folder as this machine sees it (a fleet host's is in its own mounted folder). */
function lockDirOf(env: LoadedEnvironment): string {
  const hosts = Array.isArray(env.config.hosts) ? env.config.hosts : [];
  const stateHost = hosts.find((h) => h.name === env.config.state.host) ?? hosts[0];
  return hostPath(stateHost?.mount, stateDirOf(env.config.app));
}

async function change(action: 'stop' | 'reset', env: LoadedEnvironment, status: SandboxStatus, say: (t: string) => void, out: (doc: unknown) => void): Promise<ExitCode> {
  if (status.lock?.running)
    throw new CutoverError(
      `a ${status.lock.task} (run ${status.lock.runId}, pid ${status.lock.pid}, since ${status.lock.startedAt}) is using the sandbox in ${status.root}: ` +
        `stopping it now would cut that run off. Let it finish, or stop it first (Ctrl-C where it runs, or kill -INT ${status.lock.pid}), then run this again. Nothing was changed.`,
    );
  const running = status.processes.filter((p) => p.pid !== null && !p.sharedWith);
  const result: StopResult = running.length ? await stopSandbox(status) : { stopped: [], stillRunning: [] };
  if (!running.length) say(`Nothing of the sandbox in ${status.root} is running.`);
  for (const p of result.stopped) say(`stopped  ${describe(p)}`);
  for (const p of result.stillRunning) say(`STILL RUNNING  ${describe(p)}: stop it by hand (kill -KILL ${p.pid}) and run this again`);
  const base = { action, env: env.name, root: status.root, stopped: result.stopped.map(doc), stillRunning: result.stillRunning.map(doc) };
  if (result.stillRunning.length) {
    say(`${result.stillRunning.length} process(es) of the sandbox still run${action === 'reset' ? `; ${status.root} was NOT deleted` : ''}.`);
    out({ ...base, deleted: false, exitCode: ExitCode.needsHuman });
    return ExitCode.needsHuman;
  }
  if (running.length) say(`Every process of the sandbox in ${status.root} is stopped (checked by pid).`);
  for (const p of status.processes.filter((x) => x.sharedWith && x.pid !== null)) {
    const owner = (await readState(path.join(p.sharedWith!, 'state.json')))?.envName ?? 'local';
    say(`${ROLE[p.role]} (pid ${p.pid}, port ${p.port}) keeps running: it belongs to the sandbox in ${p.sharedWith}, which shares it (npx tsx tasks/sandbox.ts stop${owner === 'local' ? '' : ` --env ${owner}`} stops it).`);
  }
  if (action === 'stop') {
    if (status.created) say(`The next command that uses the ${env.name} environment starts it again, as it was (${sandboxCommand(env, 'reset')} starts afresh).`);
    out({ ...base, exitCode: ExitCode.ok });
    return ExitCode.ok;
  }
  await rm(status.root, { recursive: true, force: true });
  const first = status.state?.initialRelease ?? 'v1.0.0';
  const db = status.kind === 'fleet' && status.state?.pg ? `; its database ${status.state.pg.database} is dropped and made again then` : '';
  say(`Deleted ${status.root}. The next command that uses the ${env.name} environment creates it again, at ${first}${db} (npx tsx tasks/deploy.ts v1.1.0${env.name === 'local' ? '' : ` --env ${env.name}`}).`);
  out({ ...base, deleted: true, exitCode: ExitCode.ok });
  return ExitCode.ok;
}

/** The command for `action` on this environment's sandbox (`--env` unless it is local). */
export function sandboxCommand(env: LoadedEnvironment, action: Action): string {
  return `npx tsx tasks/sandbox.ts ${action}${env.name === 'local' ? '' : ` --env ${env.name}`}`;
}

/** `demo-chat`, or `demo-chat@sandbox-a` on a fleet. */
const unitName = (p: SandboxProcess) => `${p.name}${p.host ? `@${p.host}` : ''}`;

function describe(p: SandboxProcess): string {
  return `${ROLE[p.role]}${p.role === 'postgres' || p.role === 'nginx' ? '' : ` ${unitName(p)}`} (pid ${p.pid}${p.port ? `, port ${p.port}` : ''})`;
}

function doc(p: SandboxProcess) {
  return { role: p.role, name: p.name, ...(p.host ? { host: p.host } : {}), pid: p.pid, port: p.port, running: p.pid !== null, ...(p.sharedWith ? { sharedWith: p.sharedWith } : {}) };
}

export function statusDoc(s: SandboxStatus) {
  const st = s.state;
  const running = s.processes.some((p) => p.pid !== null && !p.sharedWith);
  if (s.kind === 'fleet') {
    const fleet = isFleet(st) ? st : null;
    return {
      root: s.root, kind: s.kind, created: s.created, createdAt: st?.createdAt ?? null,
      ports: fleet ? { app: fleet.appPort, postgres: fleet.pg?.port ?? null, nginx: fleet.nginx?.port ?? null } : null,
      appUrl: fleet?.nginx?.url ?? null,
      hosts: s.hosts, nginx: s.nginx,
      processes: s.processes.map(doc), running, lock: s.lock,
    };
  }
  const one = st && !isFleet(st) ? st : null;
  return {
    root: s.root,
    created: s.created,
    createdAt: one?.createdAt ?? null,
    ports: one ? { app: one.appPort, postgres: one.pg?.port ?? null } : null,
    appUrl: one?.appUrl ?? null,
    release: s.release,
    health: s.health,
    processes: s.processes.map(doc),
    running,
    lock: s.lock,
  };
}

export function statusLines(env: LoadedEnvironment, s: SandboxStatus, nowMs = Date.now()): string[] {
  const near = path.relative(process.cwd(), s.root);
  const rel = near && !near.startsWith('..') ? near : s.root;
  if (!s.created && !s.processes.some((p) => p.pid !== null))
    return [`No sandbox in ${rel}: the first command that uses the ${env.name} environment creates it (npx tsx tasks/deploy.ts v1.1.0).`];
  const lines = [
    `Sandbox of ${env.file} in ${s.root}${s.state ? ` (created ${ageText(nowMs - Date.parse(s.state.createdAt))} ago)` : ' (never completely created)'}`,
  ];
  const rows = s.processes.map((p) => [
    ROLE[p.role],
    p.role === 'postgres' || p.role === 'nginx' ? `127.0.0.1:${p.port ?? '?'}` : unitName(p),
    p.pid === null ? '-' : `pid ${p.pid}`,
    p.pid === null ? 'not running' : 'running',
    detail(p, s),
  ]);
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(`  ${r.slice(0, 4).map((c, i) => c.padEnd(w[i]!)).join('  ')}${r[4] ? `  ${r[4]}` : ''}`);
  if (s.lock) lines.push(`  lock: held by a ${s.lock.task} (run ${s.lock.runId}, pid ${s.lock.pid}${s.lock.running ? '' : ', not running: stale'}) since ${s.lock.startedAt}`);
  lines.push(
    s.processes.some((p) => p.pid !== null && !p.sharedWith)
      ? `Stop it: ${sandboxCommand(env, 'stop')}; start afresh: ${sandboxCommand(env, 'reset')} (stops it and deletes ${rel})`
      : `Nothing runs. The next command that uses the ${env.name} environment starts it again; ${sandboxCommand(env, 'reset')} deletes ${rel}`,
  );
  return lines;
}

const healthText = (status: number | null) => (status === null ? 'health does not answer' : `health answers ${status}`);

function detail(p: SandboxProcess, s: SandboxStatus): string {
  const host = p.host ? s.hosts.find((h) => h.name === p.host) : undefined;
  if (p.role === 'service' && p.pid !== null && host) return `${host.url} (${healthText(host.health)})${host.release ? `, release ${host.release}` : ''}`;
  if (p.role === 'service' && p.pid !== null && s.health) {
    const url = s.state && !isFleet(s.state) ? s.state.appUrl : '';
    return `${url} (${healthText(s.health.status)})${s.release ? `, release ${s.release}` : ''}`;
  }
  if (p.role === 'nginx' && s.nginx)
    return `upstream ${s.nginx.servers.join(', ') || '(none)'}; access log ${path.relative(s.root, s.nginx.accessLog)}`;
  if (p.role === 'postgres' && s.state?.pg) {
    const data = path.relative(s.root, s.state.pg.dataDir);
    return `database ${s.state.pg.database}, data in ${data}${p.sharedWith ? ` (shared with the sandbox in ${p.sharedWith}: not stopped from here)` : ''}`;
  }
  return '';
}
