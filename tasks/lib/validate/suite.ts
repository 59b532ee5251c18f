/**
 * The release validation suite (the seed's T4.2-T4.4): questions by category with expectations,
 * sent with a concurrency cap; success overall and per category, P50/P95/P99, GO / NO-GO against
 * the criteria; the report in the seed's shape. The checks are pure.
 */
import { z } from '../base/zod.ts';
import { SignalDuration } from '../config/signal-duration.ts';
import type { RequestTemplate, Signals } from '../config/signals.ts';
import { nearestRank } from '../signals/quantile.ts';
import { send, type Sent } from '../signals/send.ts';

const Expect = z
  .object({
    status: z.number().int().min(100).max(599).optional(),
    /** Field (dot path) -> the value it must have. */
    equals: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    /** List field -> at least this many items. */
    minItems: z.record(z.string(), z.number().int().min(0)).optional(),
    /** Texts the answer's body must contain. */
    contains: z.array(z.string()).optional(),
    latencyBudget: SignalDuration.optional(),
  })
  .strict();
export type Expectation = z.output<typeof Expect>;

const Question = z.union([z.string().min(1).transform((message) => ({ message, expect: {} as Expectation })), z.object({ message: z.string().min(1), expect: Expect.default({}) }).strict()]);

export const QuestionSet = z
  .object({ categories: z.array(z.object({ name: z.string().min(1), expect: Expect.default({}), questions: z.array(Question).min(1) }).strict()).min(1) })
  .strict();
export type QuestionSet = z.output<typeof QuestionSet>;

export interface QuestionResult {
  readonly category: string;
  readonly question: string;
  readonly status: number | null;
  readonly latencyMs: number;
  readonly ok: boolean;
  /** What failed, one sentence each. */
  readonly failures: readonly string[];
  readonly intent?: string;
  readonly items?: number;
}

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** Every expectation the answer breaks (empty: it passed). Category expectations first, the question's own override them. */
export function check(expect: Expectation, r: Sent): string[] {
  const failures: string[] = [];
  if (r.status === null) return [`no answer: ${r.error ?? 'unknown error'}`];
  const wanted = expect.status ?? 200;
  if (r.status !== wanted) failures.push(`status ${r.status}, expected ${wanted}`);
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    body = undefined;
  }
  for (const [field, value] of Object.entries(expect.equals ?? {})) {
    const got = at(body, field);
    if (got !== value) failures.push(`${field} is ${JSON.stringify(got)}, expected ${JSON.stringify(value)}`);
  }
  for (const [field, n] of Object.entries(expect.minItems ?? {})) {
    const got = at(body, field);
    const len = Array.isArray(got) ? got.length : null;
    if (len === null || len < n) failures.push(`${field} has ${len === null ? 'no list' : `${len} item(s)`}, expected at least ${n}`);
  }
  for (const text of expect.contains ?? []) if (!r.body.includes(text)) failures.push(`the answer does not contain ${JSON.stringify(text)}`);
  if (expect.latencyBudget !== undefined && r.latencyMs > expect.latencyBudget) failures.push(`answered in ${Math.round(r.latencyMs)} ms, over the ${expect.latencyBudget} ms budget`);
  return failures;
}

export interface SuiteOptions {
  readonly request: RequestTemplate;
  readonly url: string;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly sendFn?: (url: string, message: string) => Promise<Sent>;
}

export async function runSuite(set: QuestionSet, o: SuiteOptions): Promise<QuestionResult[]> {
  const jobs = set.categories.flatMap((c) => c.questions.map((q) => ({ category: c.name, message: q.message, expect: { ...c.expect, ...q.expect, equals: { ...c.expect.equals, ...q.expect.equals } } })));
  const results: QuestionResult[] = new Array(jobs.length);
  let next = 0;
  const doSend = o.sendFn ?? ((url: string, m: string) => send(o.request, url, m, o.signal));
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const j = jobs[i]!;
      const r = await doSend(o.url, j.message);
      const failures = check(j.expect, r);
      let intent: string | undefined;
      let items: number | undefined;
      try {
        const b = JSON.parse(r.body) as { intent?: unknown; visualizations?: unknown };
        if (typeof b.intent === 'string') intent = b.intent;
        if (Array.isArray(b.visualizations)) items = b.visualizations.length;
      } catch {
        // not JSON: nothing more to show
      }
      results[i] = { category: j.category, question: j.message, status: r.status, latencyMs: r.latencyMs, ok: failures.length === 0, failures, ...(intent ? { intent } : {}), ...(items !== undefined ? { items } : {}) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, jobs.length) }, worker));
  return results;
}

export interface SuiteVerdict {
  readonly decision: 'GO' | 'NO-GO';
  readonly successRate: number;
  readonly byCategory: readonly { category: string; total: number; passed: number; successRate: number }[];
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly meanMs: number | null;
  readonly serverErrors: number;
  /** Each criterion, met or not, as a sentence. */
  readonly criteria: readonly { readonly criterion: string; readonly met: boolean; readonly measured: string }[];
}

export function judgeSuite(results: readonly QuestionResult[], c: NonNullable<Signals['validation']>['criteria']): SuiteVerdict {
  const passed = results.filter((r) => r.ok).length;
  const successRate = results.length ? (passed * 100) / results.length : 0;
  const lat = Float64Array.from(results.filter((r) => r.status !== null).map((r) => r.latencyMs)).sort();
  const q = (p: number) => (lat.length ? nearestRank(lat, lat.length, p) : null);
  const serverErrors = results.filter((r) => r.status !== null && r.status >= 500).length;
  const cats = [...new Set(results.map((r) => r.category))].map((category) => {
    const rs = results.filter((r) => r.category === category);
    const ok = rs.filter((r) => r.ok).length;
    return { category, total: rs.length, passed: ok, successRate: (ok * 100) / rs.length };
  });
  const p95 = q(0.95);
  const p99 = q(0.99);
  const criteria = [
    { criterion: `success rate >= ${c.minSuccessRate}%`, met: successRate >= c.minSuccessRate, measured: `${Math.round(successRate * 10) / 10}% (${passed}/${results.length})` },
    { criterion: `latency P95 <= ${c.maxP95} ms`, met: p95 !== null && p95 <= c.maxP95, measured: p95 === null ? 'no answer' : `${Math.round(p95)} ms` },
    ...(c.maxP99 !== undefined ? [{ criterion: `latency P99 <= ${c.maxP99} ms`, met: p99 !== null && p99 <= c.maxP99, measured: p99 === null ? 'no answer' : `${Math.round(p99)} ms` }] : []),
    ...(c.no5xx ? [{ criterion: 'no answer >= 500', met: serverErrors === 0, measured: `${serverErrors}` }] : []),
  ];
  return {
    decision: criteria.every((x) => x.met) ? 'GO' : 'NO-GO',
    successRate,
    byCategory: cats,
    p50: q(0.5),
    p95,
    p99,
    meanMs: lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null,
    serverErrors,
    criteria,
  };
}
