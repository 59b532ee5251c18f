/**
 * verify as a library: every selected check of every host at once. Per host the checks share one
 * SSH connection (opened first, so an unreachable host is found once) and one health and one
 * readiness answer; the history (for the journal window) is read once, from the first host.
 */
import type { Host } from '../config/schema.ts';
import { secretValues, type LoadedEnvironment } from '../config/load.ts';
import { newRunId } from '../base/run.ts';
import { HostKeyError, HostUnreachableError } from '../base/errors.ts';
import { hostNow } from '../probes/journal.ts';
import { redactText } from '../reports/redact.ts';
import { runnerFor } from '../runners/for-host.ts';
import { SshRunner } from '../runners/ssh.ts';
import type { Runner } from '../runners/types.ts';
import { readHistory } from '../state/history.ts';
import { stateDirOf } from '../state/paths.ts';
import { deployments } from '../state/queries.ts';
import { environmentHosts } from './hosts.ts';
import { selectChecks } from './select.ts';
import * as http from './http-checks.ts';
import * as onHost from './host-checks.ts';
import { durationText } from '../base/format.ts';
import { THIS_MACHINE, type CheckKind, type CheckRow, type HostVerdict, type LatencyFigures } from './types.ts';
import { overallVerdict, type Overall } from './verdict.ts';

export interface VerifyOptions {
  /** Host names to verify (default: all). */
  readonly hosts?: readonly string[];
  /** Run only these checks (default: every check the environment configures). */
  readonly only?: readonly CheckKind[];
  /** Journal window: the last this many ms instead of "since the last deploy". */
  readonly sinceMs?: number;
  readonly signal?: AbortSignal;
  /** Runners to use (and leave open): --watch and benchmarks keep connections between runs. */
  readonly runners?: ReadonlyMap<string, Runner>;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

export interface VerifyResult {
  readonly env: string;
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly checks: readonly CheckKind[];
  /** The hosts, then THIS_MACHINE when it has rows (backups). */
  readonly hosts: readonly HostVerdict[];
  readonly latency: readonly LatencyFigures[];
  /** Per host, how long each check took (ms): what the checks cost alone vs together. */
  readonly timings: Readonly<Record<string, Readonly<Partial<Record<CheckKind, number>>>>>;
  readonly overall: Overall;
}

/** Which checks need the host's shell (the others are HTTP, or on this machine). */
const SSH_KINDS: ReadonlySet<CheckKind> = new Set(['service', 'version', 'journal', 'disk', 'lock']);
const DEFAULT_JOURNAL_WINDOW_MS = 3_600_000;

type Reach = { readonly ok: true } | { readonly ok: false; readonly row: CheckRow };
type HistoryAnswer = { readonly ok: true; readonly events: Awaited<ReturnType<typeof readHistory>>['events'] } | { readonly ok: false; readonly problem: string };

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

export class VerifyRun {
  readonly runId = newRunId();
  readonly checks: readonly CheckKind[];
  readonly hosts: readonly Host[];
  private readonly runners = new Map<string, Runner>();
  private readonly owned: Runner[] = [];
  private readonly reach = new Map<string, () => Promise<Reach>>();
  private readonly secrets: string[];
  private readonly now: () => number;
  readonly history: () => Promise<HistoryAnswer>;
  private readonly primaryName: string;

  constructor(
    readonly env: LoadedEnvironment,
    allHosts: readonly Host[],
    readonly opts: VerifyOptions = {},
  ) {
    this.checks = selectChecks(env, opts.only);
    this.hosts = opts.hosts?.length ? allHosts.filter((h) => opts.hosts!.includes(h.name)) : allHosts;
    this.secrets = secretValues(env);
    this.now = opts.now ?? Date.now;
    for (const h of allHosts) {
      const given = opts.runners?.get(h.name);
      const runner = given ?? runnerFor(env, h);
      if (!given) this.owned.push(runner);
      this.runners.set(h.name, runner);
      this.reach.set(h.name, memo(() => connect(h, runner)));
    }
    const primary = allHosts[0]!; // the lock and the history live on the first host (see deploy/orchestrate.ts)
    this.history = memo(async () => {
      const r = await this.reach.get(primary.name)!();
      if (!r.ok) return { ok: false, problem: `${primary.name}, which holds the history, is unreachable` };
      try {
        return { ok: true, events: (await readHistory(this.runners.get(primary.name)!, stateDirOf(env.config.app))).events };
      } catch (err) {
        return { ok: false, problem: (err as Error).message };
      }
    });
    this.primaryName = primary.name;
  }

  /** The checks made on a host: backups are this machine's; the lock is on the first host only. */
  kindsFor(host: Host): CheckKind[] {
    return this.checks.filter((k) => k !== 'backup' && (k !== 'lock' || host.name === this.primaryName));
  }

  /** Every selected check of one host, concurrently; rows in CHECK_KINDS order. */
  async verifyHost(host: Host): Promise<{ verdict: HostVerdict; latency?: LatencyFigures; timings: Partial<Record<CheckKind, number>> }> {
    const { env, opts } = this;
    const v = env.config.verify;
    const runner = this.runners.get(host.name)!;
    const hc: onHost.HostCtx = { runner, signal: opts.signal, secrets: this.secrets, now: this.now };
    const hx: http.HttpCtx = { address: host.address, secrets: this.secrets, signal: opts.signal };
    const health = memo(() => http.getHealth(v.health, hx));
    const readiness = memo(() => http.getReadiness(v.readiness!, hx));
    const reach = this.reach.get(host.name)!;
    const kinds = this.kindsFor(host);
    let latency: LatencyFigures | undefined;
    const run: Record<Exclude<CheckKind, 'backup'>, () => Promise<http.Row[]>> = {
      service: async () => onHost.serviceRows(env.config.services, hc),
      version: async () => {
        const [d, h] = await Promise.all([onHost.readDeployed(env, hc), health()]);
        return [onHost.versionRow(v.health.versionField, d, h)];
      },
      health: async () => [http.healthRow(v.health, await health(), this.secrets)],
      readiness: async () => [http.readinessRow(v.readiness!, await readiness(), this.secrets)],
      chat: async () => [await http.chatRow(v.chat!, hx)],
      latency: async () => {
        const r = await http.latencyRow(v, hx);
        latency = { host: host.name, ...r.figures };
        return [r.row];
      },
      journal: async () => {
        const units = v.journal!.units ?? env.config.services.filter((s) => s.unit).map((s) => s.unit!);
        const sudo = env.config.services.some((s) => s.unit && s.sudo);
        return [await onHost.journalRow(v.journal!, units, sudo, await this.journalWindow(runner), hc)];
      },
      disk: async () => [await onHost.diskRow(env, hc)],
      lock: async () => [await onHost.lockRow(stateDirOf(env.config.app), hc)],
      'oversized-body': async () => [await http.oversizedRow(v, hx)],
      'rate-limit': async () => [await http.rateLimitRow(v, hx)],
      'readiness-deps': async () => [http.readinessDepsRow(v.hardening!.readinessDependencies!, await readiness(), this.secrets)],
    };
    const timings: Partial<Record<CheckKind, number>> = {};
    const needsShell = kinds.some((k) => SSH_KINDS.has(k));
    const reached = needsShell ? reach() : Promise.resolve<Reach>({ ok: true });
    const results = await Promise.all(
      kinds.map(async (k) => {
        const t0 = performance.now();
        try {
          if (SSH_KINDS.has(k) && !(await reached).ok) return [];
          return await run[k as Exclude<CheckKind, 'backup'>]();
        } catch (err) {
          if (opts.signal?.aborted) throw opts.signal.reason;
          return [unexpected(k, err)];
        } finally {
          timings[k] = Math.round(performance.now() - t0);
        }
      }),
    );
    const r = await reached;
    const rows = [...(r.ok ? [] : [r.row]), ...results.flat().map((row) => ({ ...row, host: host.name }))];
    return { verdict: { name: host.name, address: host.address, reachable: r.ok, rows: rows.map((row) => this.masked(row)) }, latency, timings };
  }

  /** This machine: the newest backup (when the environment has a database and the check is selected). */
  async verifyThisMachine(): Promise<HostVerdict | null> {
    if (!this.checks.includes('backup')) return null;
    let row: http.Row;
    try {
      row = await onHost.backupRow(this.env, this.now());
    } catch (err) {
      row = unexpected('backup', err);
    }
    return { name: THIS_MACHINE, address: '', reachable: true, rows: [this.masked({ ...row, host: THIS_MACHINE })] };
  }

  /** The journal window: --since by the host's clock, else since the last deploy in the history, else the last hour. */
  private async journalWindow(runner: Runner): Promise<onHost.JournalWindow> {
    const back = async (ms: number, label: string) => ({ since: (Number(await hostNow(runner, this.opts.signal)) - ms / 1000).toFixed(3), label });
    if (this.opts.sinceMs !== undefined) return back(this.opts.sinceMs, `last ${durationText(this.opts.sinceMs)} (--since)`);
    const h = await this.history();
    const last = h.ok ? deployments(h.events).filter((d) => d.startedAt ?? d.finishedAt).at(-1) : undefined;
    if (last) {
      const at = (last.startedAt ?? last.finishedAt)!;
      return { since: (Date.parse(at) / 1000).toFixed(3), label: `since the last ${last.task} (${last.from ?? '?'} -> ${last.to ?? '?'}, run ${last.runId})` };
    }
    return back(DEFAULT_JOURNAL_WINDOW_MS, `last ${durationText(DEFAULT_JOURNAL_WINDOW_MS)} (${h.ok ? 'no deploy in the history' : `history unreadable: ${h.problem}`})`);
  }

  private masked(row: CheckRow): CheckRow {
    const m = (s: string) => redactText(s, this.secrets); // secrets, tokens and the PII a service may echo back
    return { ...row, value: m(row.value), why: m(row.why), threshold: m(row.threshold) };
  }

  /** Assemble a result from host verdicts (the order given). */
  result(startedAtMs: number, parts: readonly { verdict: HostVerdict; latency?: LatencyFigures; timings: Partial<Record<CheckKind, number>> }[], machine: HostVerdict | null): VerifyResult {
    const hosts = [...parts.map((p) => p.verdict), ...(machine ? [machine] : [])];
    const finished = this.now();
    return {
      env: this.env.name,
      runId: this.runId,
      startedAt: new Date(startedAtMs).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: Math.max(0, finished - startedAtMs),
      checks: this.checks,
      hosts,
      latency: parts.flatMap((p) => (p.latency ? [p.latency] : [])),
      timings: Object.fromEntries(parts.map((p) => [p.verdict.name, p.timings])),
      overall: overallVerdict(this.env.name, hosts),
    };
  }

  /** Closes only the runners this run opened. */
  async close(): Promise<void> {
    await Promise.all(this.owned.map((r) => r.close()));
  }
}

async function connect(host: Host, runner: Runner): Promise<Reach> {
  if (!(runner instanceof SshRunner)) return { ok: true };
  try {
    await runner.connect();
    return { ok: true };
  } catch (err) {
    if (!(err instanceof HostUnreachableError || err instanceof HostKeyError)) throw err;
    return {
      ok: false,
      row: { host: host.name, kind: 'connect', check: 'connect', verdict: 'fail', value: err instanceof HostKeyError ? 'host key refused' : 'unreachable', threshold: 'SSH connects, host key known', why: err.message, valueClass: err.name },
    };
  }
}

function unexpected(kind: CheckKind, err: unknown): http.Row {
  return { kind, check: kind, verdict: 'fail', value: 'error', threshold: '-', why: `the check itself failed: ${(err as Error)?.message ?? String(err)}`, valueClass: 'error' };
}

/** verify in one call: the bench and other code use this; the entry point adds progress, tables and reports. */
export async function verifyEnvironment(env: LoadedEnvironment, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = (opts.now ?? Date.now)();
  const run = new VerifyRun(env, await environmentHosts(env), opts);
  try {
    const [parts, machine] = await Promise.all([Promise.all(run.hosts.map((h) => run.verifyHost(h))), run.verifyThisMachine()]);
    return run.result(started, parts, machine);
  } finally {
    await run.close();
  }
}

