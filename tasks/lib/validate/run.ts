/** The body of tasks/validate.ts: the question set against one host (or the configured URL), a table, the seed's report, GO / NO-GO. */
import path from 'node:path';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { newRunId } from '../base/run.ts';
import { probeUrl } from '../probes/http.ts';
import { filterHosts } from '../cli/host-filter.ts';
import { environmentHosts } from '../verify/hosts.ts';
import { loadDataFile } from '../signals/files.ts';
import { signalsOf } from '../signals/environment.ts';
import { mdTable, writeSignalsReport } from '../signals/report/write.ts';
import { judgeSuite, QuestionSet, runSuite, type QuestionResult, type SuiteVerdict } from './suite.ts';

const ms = (v: number | null) => (v === null ? '-' : `${Math.round(v)} ms`);

export async function validateTask(args: ParsedArgs): Promise<ExitCode> {
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const v = signalsOf(env).validation;
  if (!v) throw new UsageError(`${env.file} has no signals.validation section (questions, request, criteria): see docs/signals.md`);
  const concText = str(args, 'concurrency');
  const concurrency = concText === undefined ? v.concurrency : Number(concText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100) throw new UsageError(`--concurrency ${JSON.stringify(concText)}: a whole number from 1 to 100`);
  const set = await loadDataFile(str(args, 'questions') ?? v.questions, QuestionSet, 'questions');
  const hostName = str(args, 'host');
  let url = v.request.url;
  if (hostName || url.includes('{host}')) {
    const hosts = await environmentHosts(env);
    const name = hostName ?? hosts[0]!.name;
    filterHosts(hosts, { names: [name], tags: [] }, env.file); // an unknown host is refused, naming the hosts there are
    if (hostName && !url.includes('{host}')) throw new UsageError(`--host needs signals.validation.request.url with {host} in it (it is ${url})`);
    url = probeUrl(url, hosts.find((h) => h.name === name)!.address);
  }
  const runId = newRunId();
  const startedAt = new Date().toISOString();
  const results = await runSuite(set, { request: v.request, url, concurrency });
  const verdict = judgeSuite(results, v.criteria);
  const finishedAt = new Date().toISOString();
  const record = { startedAt, finishedAt, url, exitCode: verdict.decision === 'GO' ? 0 : 1, ...verdict, questions: results };
  let report = '';
  try {
    report = path.relative(process.cwd(), (await writeSignalsReport(env, 'validate', runId, startedAt, record, validationMarkdown(env.name, url, startedAt, results, verdict))).mdPath);
  } catch (err) {
    process.stderr.write(`warning: the validation report was not written: ${(err as Error).message}\n`);
  }
  if (flag(args, 'json')) process.stdout.write(`${JSON.stringify({ ...record, report }, null, 2)}\n`);
  else process.stdout.write(`${[...table(results), '', ...verdictLines(env.name, verdict), ...(report ? [`report: ${report}`] : [])].join('\n')}\n`);
  return verdict.decision === 'GO' ? ExitCode.ok : ExitCode.rolledBack;
}

function table(results: readonly QuestionResult[]): string[] {
  const rows = results.map((r) => [r.category, r.ok ? 'ok' : 'FAIL', r.status === null ? '-' : String(r.status), ms(r.latencyMs), r.question, r.failures.join('; ')]);
  const head = ['CATEGORY', 'RESULT', 'STATUS', 'LATENCY', 'QUESTION', 'WHAT FAILED'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => `  ${r.map((c, i) => (i < 5 ? c.padEnd(w[i]!) : c)).join('  ')}`.trimEnd());
}

export function verdictLines(env: string, v: SuiteVerdict): string[] {
  return [
    `success ${Math.round(v.successRate * 10) / 10}% overall; ${v.byCategory.map((c) => `${c.category} ${c.passed}/${c.total}`).join(', ')}`,
    `latency P50 ${ms(v.p50)}, P95 ${ms(v.p95)}, P99 ${ms(v.p99)}; answers >= 500: ${v.serverErrors}`,
    `${env}: ${v.decision}: ${v.criteria.map((c) => `${c.met ? 'met' : 'NOT MET'} ${c.criterion} (${c.measured})`).join('; ')} (exit ${v.decision === 'GO' ? 0 : 1})`,
  ];
}

/** The seed's validation report (T4.4): executive summary, results per category, anomalies, global metrics, recommendation. */
export function validationMarkdown(env: string, url: string, at: string, results: readonly QuestionResult[], v: SuiteVerdict): string {
  const out = [
    `# Release validation of ${env}: ${v.decision}`,
    '',
    '## Executive summary',
    '',
    `- Questions: ${results.length} (${url}, ${at})`,
    `- Success rate: ${Math.round(v.successRate * 10) / 10}%`,
    `- Mean latency: ${ms(v.meanMs)}`,
    `- Decision: **${v.decision}**`,
    '',
    '## Results by category',
  ];
  for (const c of v.byCategory) {
    out.push('', `### ${c.category} (${c.total} questions, ${c.passed} passed)`, '');
    out.push(...mdTable(['Question', 'Intent', 'Success', 'Viz count', 'Status', 'Latency', 'What failed'], results.filter((r) => r.category === c.category).map((r) => [r.question, r.intent, r.ok ? '✅' : '❌', r.items, r.status, ms(r.latencyMs), r.failures.join('; ')])));
  }
  const anomalies = results.filter((r) => !r.ok);
  out.push('', '## Anomalies', '', ...(anomalies.length ? anomalies.map((r) => `- ${r.question}: ${r.failures.join('; ')}`) : ['- none']));
  out.push('', '## Global metrics', '', `- Latency P50: ${ms(v.p50)}`, `- Latency P95: ${ms(v.p95)}`, `- Latency P99: ${ms(v.p99)}`, `- Success rate: ${Math.round(v.successRate * 10) / 10}%`, `- Answers >= 500: ${v.serverErrors}`);
  out.push('', '## Recommendation', '', ...v.criteria.map((c) => `- [${c.met ? 'x' : ' '}] ${c.criterion}: ${c.measured}`), '', `- [${v.decision === 'GO' ? 'x' : ' '}] GO for production`, `- [${v.decision === 'NO-GO' ? 'x' : ' '}] NO-GO: corrections needed`, '');
  return out.join('\n');
}
