/** Latency percentiles from real requests: nearest rank over every measured request, never a mean. */
import { httpRequest, type HttpRequest } from './http.ts';

/** Nearest-rank percentile of ascending `sorted` (p in 0..100): the value at rank ceil(p/100 * N). */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) throw new RangeError('percentile of no values');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface LatencySummary {
  readonly url: string;
  /** Requests sent. */
  readonly requested: number;
  /** Answers received (any status): the percentiles are over these. */
  readonly measured: number;
  /** Answers outside 2xx plus requests with no answer. */
  readonly failed: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly lastError?: string;
}

export interface LatencyOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Per request; default 10 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** `n` requests one after another (latency, not throughput), each timed to the end of its body. */
export async function latencySample(url: string, n: number, opts: LatencyOptions = {}): Promise<LatencySummary> {
  const req: HttpRequest = { method: opts.method ?? 'GET', url, ...(opts.headers ? { headers: opts.headers } : {}), ...(opts.body !== undefined ? { body: opts.body } : {}) };
  const times: number[] = [];
  let failed = 0;
  let lastError: string | undefined;
  for (let i = 0; i < n; i++) {
    const out = await httpRequest(req, { timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal });
    if (out.kind === 'error') {
      failed++;
      lastError = out.error;
      continue;
    }
    times.push(out.latencyMs);
    if (out.status < 200 || out.status > 299) {
      failed++;
      lastError = `status ${out.status}`;
    }
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => (times.length ? percentile(times, p) : null);
  return {
    url,
    requested: n,
    measured: times.length,
    failed,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    min: times[0] ?? null,
    max: times.at(-1) ?? null,
    ...(lastError !== undefined ? { lastError } : {}),
  };
}
