/**
 * The body of tasks/verify.ts: flags, environment, one round (or --watch rounds), tables or JSON,
 * a report per round that matters. Read-only: nothing on any host is changed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Duration } from '../config/schema.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, type LoadedEnvironment } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { onInterrupt } from '../kernel/interrupt.ts';
import { chooseRenderer, makeList, type RendererName } from '../kernel/listr.ts';
import { runnerFor } from '../runners/for-host.ts';
import type { Runner } from '../runners/types.ts';
import { changesBetween, describeChange } from './changes.ts';
import { VerifyRun, type VerifyResult } from './engine.ts';
import { environmentHosts } from './hosts.ts';
import { filterHosts, hostFilterFrom, type HostFilter } from '../cli/host-filter.ts';
import { writeVerifyReport, type ReportPaths } from './report.ts';
import { parseCheckNames } from './select.ts';
import { renderTables, VERDICT_LABEL } from './table.ts';
import type { CheckKind, CheckRow, HostVerdict } from './types.ts';

export interface VerifyFlags {
  /** --hosts, --tag (and the older --host NAME). */
  readonly filter: HostFilter;
  readonly only: CheckKind[];
  readonly json: boolean;
  readonly sinceMs?: number;
  readonly watchMs?: number;
  readonly rounds?: number;
  readonly renderer?: RendererName;
}

function duration(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const r = Duration.safeParse(v);
  if (!r.success) throw new UsageError(`--${name} ${JSON.stringify(v)}: not a duration; write e.g. 30s, 5m, 1h`);
  return r.data;
}

function many(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
}

export function verifyFlags(args: ParsedArgs): VerifyFlags {
  const watchMs = duration('watch', str(args, 'watch'));
  const roundsText = str(args, 'rounds');
  let rounds: number | undefined;
  if (roundsText !== undefined) {
    if (watchMs === undefined) throw new UsageError('--rounds needs --watch (it bounds the number of rounds)');
    rounds = Number(roundsText);
    if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds ${JSON.stringify(roundsText)}: a whole number of at least 1`);
  }
  if (watchMs !== undefined && watchMs < 1000) throw new UsageError('--watch: at least 1s between rounds');
  return {
    filter: hostFilterFrom(args, many(args, 'host')),
    only: parseCheckNames(many(args, 'check')),
    json: flag(args, 'json'),
    sinceMs: duration('since', str(args, 'since')),
    watchMs,
    rounds,
    renderer: chooseRenderer(str(args, 'renderer'), process.env),
  };
}

export async function verifyTask(args: ParsedArgs): Promise<ExitCode> {
  const flags = verifyFlags(args);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const all = await environmentHosts(env);
  const hosts = filterHosts(all, flags.filter, env.file).map((h) => h.name);
  if (env.config.sandbox && !existsSync(path.join(env.config.sandbox.root, 'state.json')))
    throw new UsageError(`the local sandbox does not exist yet (${env.config.sandbox.root}); create it with: npx tsx tasks/doctor.ts`);
  const out = (t: string) => process.stdout.write(`${t}\n`);
  const note = (t: string) => (flags.json ? process.stderr : process.stdout).write(`${t}\n`);

  const runners = new Map<string, Runner>(all.map((h) => [h.name, runnerFor(env, h)]));
  const interrupt = onInterrupt((t) => process.stderr.write(`${t}\n`), 'stopping');

  let last: VerifyResult | null = null;
  try {
    for (let round = 1; ; round++) {
      const run = new VerifyRun(env, all, { hosts, only: flags.only, sinceMs: flags.sinceMs, signal: interrupt.signal, runners });
      let result: VerifyResult;
      try {
        result = await runRound(run, round === 1 ? flags : { ...flags, renderer: undefined }, round === 1);
      } catch (err) {
        if (interrupt.signal.aborted) break;
        throw err;
      }
      const changes = last ? changesBetween(rowsOf(last.hosts), rowsOf(result.hosts)) : [];
      const final = flags.watchMs === undefined || (flags.rounds !== undefined && round >= flags.rounds);
      const watch = flags.watchMs !== undefined ? { round, intervalMs: flags.watchMs, changes: changes.map(describeChange) } : undefined;
      // watch: a report for the first round, for every round that changed something, and for the last one
      const report = round === 1 || changes.length > 0 || final ? await writeVerifyReport(env, result, watch ? { watch } : {}) : null;
      if (report && 'error' in report) process.stderr.write(`warning: the verify report was not written: ${report.error}\n`);
      const paths = report && !('error' in report) ? report : null;
      if (flags.json) out(JSON.stringify(resultJson(result, paths, watch), null, flags.watchMs === undefined ? 2 : undefined));
      else out(roundText(env, result, last, round, flags, paths));
      last = result;
      if (final) break;
      try {
        await sleep(flags.watchMs!, undefined, { signal: interrupt.signal });
      } catch {
        break; // Ctrl-C while waiting: the watch ends with the last round's verdict
      }
    }
  } finally {
    interrupt.dispose();
    await Promise.all([...runners.values()].map((r) => r.close()));
  }
  if (!last) return ExitCode.interrupted;
  if (interrupt.signal.aborted) note(`stopped by Ctrl-C: exit ${last.overall.exitCode}, the verdict of the last complete round (${last.overall.verdict})`);
  return last.overall.exitCode;
}

const rowsOf = (hosts: readonly HostVerdict[]): CheckRow[] => hosts.flatMap((h) => h.rows);

/** One round, with listr2 progress per host on the first round (stderr with --json). */
async function runRound(run: VerifyRun, flags: VerifyFlags, progress: boolean): Promise<VerifyResult> {
  const started = Date.now();
  const parts: Awaited<ReturnType<VerifyRun['verifyHost']>>[] = [];
  let machine: HostVerdict | null = null;
  if (!progress) {
    const [p, m] = await Promise.all([Promise.all(run.hosts.map((h) => run.verifyHost(h))), run.verifyThisMachine()]);
    return run.result(started, p, m);
  }
  const list = makeList(
    {},
    [
      ...run.hosts.map((h, i) => ({
        title: `${h.name}: ${run.kindsFor(h).length} checks`,
        task: async (_: unknown, t: { title: string }) => {
          parts[i] = await run.verifyHost(h);
          t.title = `${h.name}: ${tally(parts[i]!.verdict)}`;
        },
      })),
      ...(run.checks.includes('backup')
        ? [
            {
              title: '(this machine): backup',
              task: async (_: unknown, t: { title: string }) => {
                machine = await run.verifyThisMachine();
                t.title = `(this machine): ${machine ? tally(machine) : 'no backup check'}`;
              },
            },
          ]
        : []),
    ],
    { renderer: flags.renderer, json: flags.json, concurrent: true },
  );
  await list.run();
  return run.result(started, parts, machine);
}

/** `9 ok, 1 WARN, 1 FAIL` (or `unreachable`). */
export function tally(h: HostVerdict): string {
  if (!h.reachable) return `unreachable: ${h.rows[0]?.why.split('\n')[0] ?? ''}`;
  const n = (v: CheckRow['verdict']) => h.rows.filter((r) => r.verdict === v).length;
  return (['ok', 'warn', 'fail'] as const)
    .filter((v) => n(v) > 0)
    .map((v) => `${n(v)} ${VERDICT_LABEL[v]}`)
    .join(', ');
}

function roundText(env: LoadedEnvironment, r: VerifyResult, prev: VerifyResult | null, round: number, flags: VerifyFlags, report: ReportPaths | null): string {
  const lines: string[] = [];
  const reportLine = report ? [`report: ${path.relative(process.cwd(), report.mdPath)}`] : [];
  if (!prev) {
    lines.push('', renderTables(r.hosts), '', r.overall.headline, ...reportLine);
    if (flags.watchMs !== undefined)
      lines.push(`watching ${env.name} every ${flags.watchMs / 1000}s${flags.rounds ? ` for ${flags.rounds} rounds` : ''}: only changes are printed from now on (Ctrl-C to stop)`);
    return lines.join('\n');
  }
  const changes = changesBetween(rowsOf(prev.hosts), rowsOf(r.hosts));
  const at = r.finishedAt.slice(11, 19);
  if (!changes.length) return `round ${round} at ${at}Z: no change: ${r.overall.headline}`;
  lines.push(`round ${round} at ${at}Z: ${changes.length} change(s):`, ...changes.map((c) => `  ${describeChange(c)}`), r.overall.headline, ...reportLine);
  return lines.join('\n');
}

export function resultJson(r: VerifyResult, report: ReportPaths | null, watch?: unknown): unknown {
  return {
    environment: r.env,
    runId: r.runId,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs,
    verdict: r.overall.verdict,
    exitCode: r.overall.exitCode,
    headline: r.overall.headline,
    failing: r.overall.failing.map((x) => `${x.host} ${x.check}`),
    warnings: r.overall.warnings.map((x) => `${x.host} ${x.check}`),
    hosts: r.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      reachable: h.reachable,
      checks: h.rows.map(({ kind, check, verdict, value, threshold, why }) => ({ kind, check, verdict, value, threshold, why })),
    })),
    latency: r.latency,
    timingsMs: r.timings,
    report,
    ...(watch ? { watch } : {}),
  };
}
