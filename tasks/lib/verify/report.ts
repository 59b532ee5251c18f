/**
 * The verify record under backups/<env>/reports/ (JSON + Markdown), through the reports module.
 * A report that cannot be written is a warning: it never changes verify's verdict or exit code.
 */
import type { LoadedEnvironment } from '../config/load.ts';
import { writeReport, type ReportInput, type ReportPaths } from '../reports/write.ts';
import { whoAmI } from '../state/lock.ts';
import type { VerifyResult } from './engine.ts';

export function reportInput(r: VerifyResult, extra: Record<string, unknown> = {}): ReportInput {
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

export type { ReportPaths };

export async function writeVerifyReport(env: LoadedEnvironment, r: VerifyResult, extra: Record<string, unknown> = {}): Promise<ReportPaths | { error: string }> {
  try {
    return await writeReport(env, reportInput(r, extra));
  } catch (err) {
    return { error: (err as Error)?.message ?? String(err) };
  }
}
