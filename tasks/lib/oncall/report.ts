/**
 * The verify record under backups/<env>/reports/ (JSON + Markdown), through the reports module.
 * A report that cannot be written is a warning: it never changes verify's verdict or exit code.
 */
import type { LoadedEnvironment } from '../config/load.ts';
import { whoAmI } from '../state/lock.ts';
import type { VerifyResult } from './engine.ts';

/** What tasks/lib/reports/write.ts takes for a verify (the subset verify fills in). */
export interface VerifyReportInput {
  readonly kind: 'verify';
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly verdict: 'GO' | 'NO-GO';
  readonly title: string;
  readonly summary: string[];
  readonly checks: Array<{ host: string; check: string; value: string; threshold: string; verdict: 'ok' | 'warn' | 'fail'; why: string }>;
  readonly latency?: Array<{ host: string; p50: number | null; p95: number | null; p99: number | null; samples: number }>;
  readonly extra?: Record<string, unknown>;
}
export interface ReportPaths {
  readonly jsonPath: string;
  readonly mdPath: string;
}
type WriteReport = (env: LoadedEnvironment, input: VerifyReportInput) => Promise<ReportPaths>;

export function reportInput(r: VerifyResult, extra: Record<string, unknown> = {}): VerifyReportInput {
  const rows = r.hosts.flatMap((h) => h.rows);
  const count = (v: string) => rows.filter((x) => x.verdict === v).length;
  const hosts = r.hosts.filter((h) => h.address !== '').length;
  return {
    kind: 'verify',
    runId: r.runId,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    verdict: r.overall.verdict,
    title: `verify of ${r.env}: ${r.overall.verdict}`,
    summary: [
      r.overall.headline,
      `${rows.length} checks on ${hosts} host(s): ${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail, in ${r.durationMs} ms`,
      `run by ${whoAmI()}`,
    ],
    checks: rows.map((x) => ({ host: x.host, check: x.check, value: x.value, threshold: x.threshold, verdict: x.verdict, why: x.why })),
    latency: r.latency.map((l) => ({ host: l.host, p50: l.p50, p95: l.p95, p99: l.p99, samples: l.samples })),
    extra: { exitCode: r.overall.exitCode, hosts: r.hosts.map((h) => ({ name: h.name, address: h.address, reachable: h.reachable })), timingsMs: r.timings, ...extra },
  };
}

export async function writeVerifyReport(env: LoadedEnvironment, r: VerifyResult, extra: Record<string, unknown> = {}): Promise<ReportPaths | { error: string }> {
  try {
    // NOTE: tasks/lib/reports/write.ts is written in parallel (issue 5); the specifier is a variable until it lands
    const spec = '../reports/write.ts';
    const { writeReport } = (await import(spec)) as { writeReport: WriteReport };
    return await writeReport(env, reportInput(r, extra));
  } catch (err) {
    return { error: (err as Error)?.message ?? String(err) };
  }
}
