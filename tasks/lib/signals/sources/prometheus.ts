/**
 * Prometheus' HTTP API (`/api/v1/query`, `/api/v1/query_range`): instant values and series.
 * An empty result or NaN is "no data", never zero; a server that cannot be reached or answers
 * an error is "unavailable", with the reason (the gate's onUnavailable decides what that means).
 */
import { httpRequest } from '../../probes/http.ts';

export type PromAnswer =
  | { readonly kind: 'value'; readonly value: number; readonly series: number }
  | { readonly kind: 'nodata'; readonly why: string }
  | { readonly kind: 'unavailable'; readonly why: string };

export interface PromPoint {
  readonly t: number;
  readonly value: number | null;
}

export interface PrometheusOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

interface ApiAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

/** Escapes a key for a regular expression inside a PromQL double-quoted string: `127\\.0\\.0\\.1:8001`. */
export function promRegexKey(key: string): string {
  return key.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\\\${c}`).replace(/"/g, '\\"');
}

/** `{cohort}` replaced by the cohort's keys as one alternation (use it with =~), `.*` for every record. */
export function withCohort(query: string, keys: readonly string[] | 'all'): string {
  const alt = keys === 'all' ? '.*' : keys.map(promRegexKey).join('|');
  return query.replaceAll('{cohort}', alt);
}

/** `5m` of window as PromQL: whole seconds. */
export function promRange(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

export class PrometheusClient {
  constructor(private readonly opts: PrometheusOptions) {}

  private async get(path: string, params: Record<string, string>): Promise<{ ok: true; data: NonNullable<ApiAnswer['data']> } | { ok: false; why: string; unavailable: boolean }> {
    const url = new URL(path, this.opts.url.endsWith('/') ? this.opts.url : `${this.opts.url}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const out = await httpRequest({ method: 'GET', url: url.href, headers: { accept: 'application/json', ...this.opts.headers } }, { timeoutMs: this.opts.timeoutMs, signal: this.opts.signal, maxBodyBytes: 8 << 20 });
    if (out.kind === 'error') return { ok: false, why: `${url.origin}: ${out.error}`, unavailable: true };
    let body: ApiAnswer;
    try {
      body = JSON.parse(out.body) as ApiAnswer;
    } catch {
      return { ok: false, why: `${url.origin} answered ${out.status} with something that is not Prometheus JSON`, unavailable: true };
    }
    if (body.status !== 'success' || !body.data) {
      // a bad query (400/422) is the config's fault: unavailable too, and the message says which
      const why = `${url.origin} answered ${out.status}: ${body.errorType ?? 'error'}: ${body.error ?? 'no data'}`;
      return { ok: false, why, unavailable: true };
    }
    return { ok: true, data: body.data };
  }

  /** An instant query at `time` (epoch ms): one number (several series are summed), no data, or unavailable. */
  async query(expr: string, time: number): Promise<PromAnswer> {
    const r = await this.get('api/v1/query', { query: expr, time: (time / 1000).toFixed(3) });
    if (!r.ok) return { kind: 'unavailable', why: r.why };
    const { resultType, result } = r.data;
    if (resultType === 'scalar') return scalar((result as [number, string])[1], 1);
    if (resultType === 'vector') {
      const series = result as { value: [number, string] }[];
      if (series.length === 0) return { kind: 'nodata', why: 'the query returned no series' };
      const values = series.map((s) => Number(s.value[1])).filter((v) => !Number.isNaN(v));
      if (values.length === 0) return { kind: 'nodata', why: 'every series is NaN' };
      return { kind: 'value', value: values.reduce((a, b) => a + b, 0), series: values.length };
    }
    return { kind: 'unavailable', why: `unexpected result type ${resultType} (write an instant vector or scalar expression)` };
  }

  /** A range query: one point per step (series summed per time); NaN and gaps are null. */
  async queryRange(expr: string, start: number, end: number, stepMs: number): Promise<{ kind: 'series'; points: PromPoint[] } | { kind: 'unavailable'; why: string }> {
    const r = await this.get('api/v1/query_range', { query: expr, start: (start / 1000).toFixed(3), end: (end / 1000).toFixed(3), step: `${Math.max(1, Math.round(stepMs / 1000))}s` });
    if (!r.ok) return { kind: 'unavailable', why: r.why };
    const sums = new Map<number, number>();
    for (const s of (r.data.result ?? []) as { values: [number, string][] }[]) {
      for (const [t, v] of s.values) {
        const n = Number(v);
        if (!Number.isNaN(n)) sums.set(Math.round(t * 1000), (sums.get(Math.round(t * 1000)) ?? 0) + n);
      }
    }
    const points: PromPoint[] = [];
    for (let t = start; t <= end; t += stepMs) points.push({ t, value: sums.get(Math.round(t)) ?? null });
    return { kind: 'series', points };
  }
}

function scalar(v: string, series: number): PromAnswer {
  const n = Number(v);
  return Number.isNaN(n) ? { kind: 'nodata', why: 'the result is NaN' } : { kind: 'value', value: n, series };
}
