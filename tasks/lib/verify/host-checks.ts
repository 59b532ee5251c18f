/**
 * The host side of verify, read-only over the host's one connection: services and since when,
 * the deployed tag against the running version, disk space, the deploy lock, the journal over a
 * window; and on this machine the age of the newest backup.
 */
import type { EnvironmentConfig, Service } from '../config/schema.ts';
import { listBackups } from '../backup/retention.ts';
import { command, raw } from '../commands/shell.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import { runJournalScan } from '../probes/journal.ts';
import { lastLines } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { describeHolder, lockStatus } from '../state/lock.ts';
import { lockFileIn } from '../state/paths.ts';
import { hostReads } from '../commands/host-reads.ts';
import type { HealthAnswer, Row } from './http-checks.ts';
import { ageText, durationText, kibText } from '../base/format.ts';
import { readDeployed as readHostDeployed, type DeployedRead } from '../probes/host-facts.ts';
import { parseDf, parseSystemctlShow, parseSystemdTimestamp } from './parse.ts';

const SSH_TIMEOUT_MS = 15_000;
export const DEFAULT_BACKUP_MAX_AGE_MS = 26 * 3_600_000;
export const DEFAULT_MIN_FREE_PERCENT = 10;

export interface HostCtx {
  readonly runner: Runner;
  readonly signal?: AbortSignal;
  readonly secrets: readonly string[];
  /** Epoch ms now (tests pass a fixed clock). */
  readonly now: () => number;
}

function failedCommand(what: string, r: { code: number | null; error?: string; stderr: string; stdout: string }): string {
  const tail = lastLines(r.stderr || r.stdout, 3).trim();
  return `${what} ${r.error ?? `exited ${r.code}`}${tail ? `: ${tail}` : ''}`;
}

export async function serviceRows(services: readonly Service[], c: HostCtx): Promise<Row[]> {
  const units = services.filter((s) => s.unit);
  const rows: Row[] = [];
  if (units.length) {
    const cmd = hostReads.serviceShow(units.map((s) => s.unit!));
    const r = await c.runner.exec(cmd, { timeoutMs: SSH_TIMEOUT_MS, signal: c.signal });
    const blocks = r.code === 0 ? parseSystemctlShow(r.stdout) : [];
    units.forEach((s, i) => rows.push(unitRow(s, r.code === 0 ? blocks[i] : undefined, r.code === 0 ? '' : failedCommand(cmd.script, r), c.now())));
  }
  const custom = services.filter((s) => s.commands);
  rows.push(...(await Promise.all(custom.map((s) => customRow(s, c)))));
  // in the order the environment lists its services
  return services.map((s) => rows.find((row) => row.check === `service ${s.name}`)!);
}

/** One unit's row from its `systemctl show` block. */
export function unitRow(s: Service, p: Record<string, string> | undefined, problem: string, nowMs: number): Row {
  const base = { kind: 'service', check: `service ${s.name}`, threshold: 'active' } as const;
  if (!p) return { ...base, verdict: 'fail', value: 'unknown', why: problem || `systemctl show printed nothing for ${s.unit}`, valueClass: 'unknown' };
  if (p.LoadState === 'not-found') return { ...base, verdict: 'fail', value: 'not found', why: `unit ${s.unit} does not exist on this host (systemctl show: LoadState=not-found)`, valueClass: 'not found' };
  const state = p.ActiveState ?? 'unknown';
  const sub = p.SubState ? ` (${p.SubState})` : '';
  const since = p.ActiveEnterTimestamp ?? '';
  const at = parseSystemdTimestamp(since);
  const restarts = p.NRestarts !== undefined && p.NRestarts !== '' ? `, restarted ${p.NRestarts} time(s) by systemd` : '';
  if (state === 'active')
    return {
      ...base,
      verdict: 'ok',
      value: `active${sub}${since ? ` since ${since}` : ''}${at !== null ? `, ${ageText(nowMs - at)} ago` : ''}`,
      why: `systemctl show ${s.unit}: ActiveState=active${p.SubState ? `, SubState=${p.SubState}` : ''}${restarts}`,
      valueClass: `active ${since}`,
    };
  return {
    ...base,
    verdict: 'fail',
    value: `${state}${sub}`,
    why: `${s.unit} is ${state}${restarts}. See: journalctl -u ${s.unit} -n 50 --no-pager`,
    valueClass: state,
  };
}

async function customRow(s: Service, c: HostCtx): Promise<Row> {
  const r = await c.runner.exec(command(raw(s.commands!.status), { readOnly: true }), { timeoutMs: SSH_TIMEOUT_MS, signal: c.signal });
  const base = { kind: 'service', check: `service ${s.name}`, threshold: 'status exits 0' } as const;
  if (r.code === 0) return { ...base, verdict: 'ok', value: 'running', why: `\`${s.commands!.status}\` exits 0`, valueClass: 'running' };
  return { ...base, verdict: 'fail', value: 'not running', why: failedCommand(`\`${s.commands!.status}\``, r), valueClass: 'not running' };
}

export type { DeployedRead } from '../probes/host-facts.ts';

export function readDeployed(env: LoadedEnvironment, c: HostCtx): Promise<DeployedRead> {
  return readHostDeployed(env, c.runner, { timeoutMs: SSH_TIMEOUT_MS, ...(c.signal ? { signal: c.signal } : {}) });
}

export function versionRow(versionField: string | undefined, d: DeployedRead, h: HealthAnswer): Row {
  const base = { kind: 'version', check: 'version', threshold: 'running = deployed tag' } as const;
  if (!d.ok) return { ...base, verdict: 'fail', value: 'no working copy', why: d.problem, valueClass: 'no working copy' };
  const deployed = d.tag ?? `commit ${d.commit.slice(0, 12)}`;
  const where = d.release ? ` (release ${d.release})` : '';
  if (!d.tag) return { ...base, verdict: 'warn', value: `deployed ${deployed}`, why: `the working copy${where} is on no tag (commit ${d.commit}): deployed by hand?`, valueClass: deployed };
  if (!versionField) return { ...base, verdict: 'ok', value: `deployed ${deployed}`, threshold: '(not compared)', why: `health.versionField is not set: the running version is not compared${where}`, valueClass: deployed };
  if (h.out.kind === 'error') return { ...base, verdict: 'warn', value: `deployed ${deployed}, running unknown`, why: `health did not answer: the running version is unknown${where}`, valueClass: `${deployed} ?` };
  if (!h.version?.ok) return { ...base, verdict: 'warn', value: `deployed ${deployed}, running unknown`, why: `health answered, but ${h.version?.problem ?? 'without a version'}`, valueClass: `${deployed} ?` };
  const running = h.version.version;
  if (running !== d.tag)
    return {
      ...base,
      verdict: 'fail',
      value: `deployed ${deployed}, running ${running}`,
      why: `the working copy${where} is on ${deployed} but the service reports ${running} in '${versionField}': checked out without a restart, or the restart did not take`,
      valueClass: `${deployed} ${running}`,
    };
  return { ...base, verdict: 'ok', value: `deployed ${deployed}, running ${running}`, why: `health reports ${running} in '${versionField}'${where}`, valueClass: `${deployed} ${running}` };
}

export async function diskRow(env: LoadedEnvironment, c: HostCtx): Promise<Row> {
  const path = env.config.verify.disk?.path ?? env.config.app.path;
  const min = env.config.verify.disk?.minFreePercent ?? DEFAULT_MIN_FREE_PERCENT;
  const cmd = hostReads.disk(path);
  const r = await c.runner.exec(cmd, { timeoutMs: SSH_TIMEOUT_MS, signal: c.signal });
  const base = { kind: 'disk', check: 'disk', threshold: `>= ${min}% free` } as const;
  const d = r.code === 0 ? parseDf(r.stdout) : null;
  if (!d) return { ...base, verdict: 'fail', value: 'unknown', why: r.code === 0 ? `cannot read the answer of \`${cmd.script}\`: ${r.stdout.trim()}` : failedCommand(`\`${cmd.script}\``, r), valueClass: 'unknown' };
  const ok = d.freePercent >= min;
  return {
    ...base,
    verdict: ok ? 'ok' : 'fail',
    value: `${d.freePercent.toFixed(1)}% free (${kibText(d.availKiB)} of ${kibText(d.totalKiB)})`,
    why: `${path} is on ${d.filesystem} mounted on ${d.mountedOn}${ok ? '' : `: below ${min}% free`}`,
    valueClass: '',
  };
}

export async function lockRow(stateDir: string, c: HostCtx): Promise<Row> {
  const base = { kind: 'lock', check: 'lock', threshold: 'free' } as const;
  let holder;
  try {
    holder = await lockStatus(c.runner, stateDir);
  } catch (err) {
    return { ...base, verdict: 'fail', value: 'unknown', why: (err as Error).message, valueClass: 'unknown' };
  }
  if (!holder) return { ...base, verdict: 'ok', value: 'free', why: `no deploy holds ${lockFileIn(stateDir)}`, valueClass: 'free' };
  const rec = holder.record;
  const who = rec ? `${rec.owner} (run ${rec.runId}: ${rec.task}${rec.tag ? ` ${rec.tag}` : ''})` : 'an unreadable record';
  return {
    ...base,
    verdict: 'warn',
    value: `${holder.stale ? 'STALE, ' : ''}held by ${who} for ${ageText(holder.ageSec * 1000)}`,
    why: describeHolder(holder, lockFileIn(stateDir)),
    valueClass: `${holder.stale ? 'stale' : 'held'} ${rec?.runId ?? holder.raw}`,
  };
}

export interface JournalWindow {
  /** Epoch seconds (host clock or the history's), as journalctl --since @EPOCH reads it. */
  readonly since: string;
  /** `since the last deploy (...)`, `last 30m (--since)`. */
  readonly label: string;
}

export async function journalRow(cfg: NonNullable<EnvironmentConfig['verify']['journal']>, units: readonly string[], sudo: boolean, w: JournalWindow, c: HostCtx): Promise<Row> {
  const r = await runJournalScan(c.runner, units, w.since, cfg, { sudo, signal: c.signal, secrets: c.secrets, timeoutMs: 30_000 });
  const rule = `none at ${cfg.priority} or worse${cfg.failPatterns.length ? `, none matching ${cfg.failPatterns.map((p) => `/${p}/`).join(' ')}` : ''}`;
  const failedToRun = !r.ok && r.offending === 0;
  return {
    kind: 'journal',
    check: 'journal',
    verdict: r.ok ? 'ok' : 'fail',
    value: failedToRun ? 'scan failed' : `${r.offending} of ${r.scanned} entries`,
    threshold: rule,
    why: `${w.label}: ${r.detail}`,
    valueClass: failedToRun ? 'scan failed' : r.offending ? 'offending' : 'clean',
  };
}

export async function backupRow(env: LoadedEnvironment, nowMs: number): Promise<Row> {
  const maxAge = env.config.backups.maxAge ?? DEFAULT_BACKUP_MAX_AGE_MS;
  const base = { kind: 'backup', check: 'backup', threshold: `newest <= ${durationText(maxAge)} old, verified` } as const;
  const all = await listBackups(env.backupDir);
  const newest = all[0];
  if (!newest) return { ...base, verdict: 'fail', value: 'none', why: `no backup with a manifest in ${env.backupDir} (backups are kept on the machine that took them)`, valueClass: 'none' };
  const m = newest.manifest;
  const age = nowMs - Date.parse(m.createdAt);
  const v = m.verified;
  const verified = !v ? 'not verified' : v.ok ? 'verified' : `verification FAILED${v.problems?.length ? `: ${v.problems.join('; ')}` : ''}`;
  const why = `newest of ${all.length} in ${env.backupDir}: ${m.file}, taken ${m.createdAt} before ${m.fromTag ?? '(no tag)'} -> ${m.toTag}, ${kibText(m.sizeBytes / 1024)}, ${verified}`;
  const problems: string[] = [];
  if (age > maxAge) problems.push(`older than ${durationText(maxAge)}`);
  if (v && !v.ok) problems.push('its verification failed');
  const verdict = problems.length ? 'fail' : !v ? 'warn' : 'ok';
  return {
    ...base,
    verdict,
    value: `${ageText(age)} old, ${v ? (v.ok ? 'verified' : 'verification failed') : 'not verified'}`,
    why: problems.length ? `${why}: ${problems.join(', ')}` : why,
    valueClass: `${m.file} ${verdict}`,
  };
}

