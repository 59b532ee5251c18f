/**
 * The HTTP side of verify, one request each (no polling: verify reports what is, now): health
 * with the version it reports, readiness with its dependency map, the test chat, latency
 * sampling, and the opt-in hardening probes (oversized message -> 413, bounded burst -> 429).
 */
import type { EnvironmentConfig } from '../config/schema.ts';
import { chatRequest, chatTimeoutMs, checkChat } from '../probes/chat.ts';
import { HEALTH_REQUEST_TIMEOUT_MS, readVersion } from '../probes/health.ts';
import { httpRequest, probeUrl, type HttpOutcome, type HttpRequest } from '../probes/http.ts';
import { latencySample } from '../probes/latency.ts';
import { excerpt, formatMs, maskUrl } from '../probes/text.ts';
import { kibText } from '../base/format.ts';
import { formatDependencies, parseDependencies } from './parse.ts';
import type { CheckRow, LatencyFigures, Verdict } from './types.ts';

type VerifyConfig = EnvironmentConfig['verify'];
export type Row = Omit<CheckRow, 'host'>;

export interface HttpCtx {
  readonly address: string;
  readonly secrets: readonly string[];
  readonly signal?: AbortSignal;
}

/** Sub-millisecond loopback answers keep a decimal. */
export function ms(v: number): string {
  return v < 10 ? `${v.toFixed(1)} ms` : formatMs(v);
}

export interface HealthAnswer {
  readonly out: HttpOutcome;
  readonly url: string;
  /** The version the body reports in health.versionField, or why there is none. */
  readonly version: { readonly ok: true; readonly version: string } | { readonly ok: false; readonly problem: string } | null;
}

export async function getHealth(cfg: VerifyConfig['health'], c: HttpCtx, timeoutMs = HEALTH_REQUEST_TIMEOUT_MS): Promise<HealthAnswer> {
  const url = probeUrl(cfg.url, c.address);
  const out = await httpRequest({ method: 'GET', url }, { timeoutMs: Math.min(timeoutMs, cfg.timeout), signal: c.signal });
  const version = cfg.versionField && out.kind === 'answer' ? readVersion(out.body, cfg.versionField) : null;
  return { out, url, version };
}

export function healthRow(cfg: VerifyConfig['health'], a: HealthAnswer, secrets: readonly string[]): Row {
  const shown = `GET ${maskUrl(a.url, secrets)}`;
  const threshold = `${cfg.expectStatus}${cfg.expectBody !== undefined ? `, body contains ${JSON.stringify(cfg.expectBody)}` : ''}`;
  const base = { kind: 'health', check: 'health', threshold } as const;
  if (a.out.kind === 'error') return { ...base, verdict: 'fail', value: 'no answer', why: `${shown}: no answer: ${a.out.error}`, valueClass: 'no answer' };
  const body = excerpt(a.out.body, secrets) || '(empty)';
  const problems: string[] = [];
  if (a.out.status !== cfg.expectStatus) problems.push(`status ${a.out.status}, expected ${cfg.expectStatus}`);
  if (cfg.expectBody !== undefined && !a.out.body.includes(cfg.expectBody)) problems.push(`the body does not contain ${JSON.stringify(cfg.expectBody)}`);
  const v = a.version?.ok ? `, version ${a.version.version}` : '';
  return {
    ...base,
    verdict: problems.length ? 'fail' : 'ok',
    value: `${a.out.status} in ${ms(a.out.latencyMs)}`,
    why: `${shown}: ${problems.length ? problems.join('; ') : `${a.out.status}${v}`}; body: ${body}`,
    valueClass: String(a.out.status),
  };
}

export interface ReadinessAnswer {
  readonly out: HttpOutcome;
  readonly url: string;
  readonly dependencies: Record<string, string> | null;
}

export async function getReadiness(cfg: NonNullable<VerifyConfig['readiness']>, c: HttpCtx): Promise<ReadinessAnswer> {
  const url = probeUrl(cfg.url, c.address);
  const out = await httpRequest({ method: 'GET', url }, { timeoutMs: HEALTH_REQUEST_TIMEOUT_MS, signal: c.signal });
  return { out, url, dependencies: out.kind === 'answer' ? parseDependencies(out.body) : null };
}

export function readinessRow(cfg: NonNullable<VerifyConfig['readiness']>, a: ReadinessAnswer, secrets: readonly string[]): Row {
  const shown = `GET ${maskUrl(a.url, secrets)}`;
  const base = { kind: 'readiness', check: 'readiness', threshold: String(cfg.expectStatus) } as const;
  if (a.out.kind === 'error') return { ...base, verdict: 'fail', value: 'no answer', why: `${shown}: no answer: ${a.out.error}`, valueClass: 'no answer' };
  const deps = a.dependencies ? formatDependencies(a.dependencies) : null;
  const ok = a.out.status === cfg.expectStatus;
  return {
    ...base,
    verdict: ok ? 'ok' : 'fail',
    value: `${a.out.status}${deps ? `; ${deps}` : ''}`,
    why: `${shown}: ${ok ? `${a.out.status}` : `status ${a.out.status}, expected ${cfg.expectStatus}`} in ${ms(a.out.latencyMs)}; ${
      deps ? `dependencies: ${deps}` : `no dependency map in the answer: ${excerpt(a.out.body, secrets) || '(empty)'}`
    }`,
    valueClass: `${a.out.status} ${deps ?? ''}`,
  };
}

export function readinessDepsRow(names: readonly string[], a: ReadinessAnswer, secrets: readonly string[]): Row {
  const threshold = `names ${names.join(', ')}`;
  const base = { kind: 'readiness-deps', check: 'readiness dependencies', threshold } as const;
  if (a.out.kind === 'error') return { ...base, verdict: 'fail', value: 'no answer', why: `GET ${maskUrl(a.url, secrets)}: no answer: ${a.out.error}`, valueClass: 'no answer' };
  if (!a.dependencies)
    return { ...base, verdict: 'fail', value: 'no dependency map', why: `the readiness answer names no dependencies: ${excerpt(a.out.body, secrets) || '(empty)'}`, valueClass: 'none' };
  const missing = names.filter((n) => !(n in a.dependencies!));
  const deps = formatDependencies(a.dependencies);
  return {
    ...base,
    verdict: missing.length ? 'fail' : 'ok',
    value: deps,
    why: missing.length ? `readiness does not name ${missing.join(', ')} (it names: ${deps})` : `readiness names every expected dependency`,
    valueClass: missing.join(','),
  };
}

export async function chatRow(cfg: NonNullable<VerifyConfig['chat']>, c: HttpCtx): Promise<Row> {
  const r = await checkChat(cfg, { address: c.address, signal: c.signal, secrets: c.secrets });
  const contains = cfg.expectContains.length ? `, contains ${cfg.expectContains.map((s) => JSON.stringify(s)).join(', ')}` : '';
  const status = r.got?.status ?? null;
  return {
    kind: 'chat',
    check: 'chat',
    verdict: r.ok ? 'ok' : 'fail',
    value: status === null ? 'no answer' : `${status} in ${ms(r.waitedMs)}`,
    threshold: `${cfg.expectStatus}${contains}, <= ${formatMs(cfg.latencyBudget)}`,
    why: r.detail,
    valueClass: status === null ? 'no answer' : String(status),
  };
}

export interface LatencyOutcome {
  readonly row: Row;
  readonly figures: Omit<LatencyFigures, 'host'>;
}

export async function latencyRow(v: VerifyConfig, c: HttpCtx): Promise<LatencyOutcome> {
  const cfg = v.latency;
  const samples = cfg?.samples ?? DEFAULT_LATENCY_SAMPLES;
  const viaChat = cfg?.target === 'chat' && v.chat;
  const req: HttpRequest = viaChat ? chatRequest(v.chat!, c.address) : { method: 'GET', url: probeUrl(v.health.url, c.address) };
  const s = await latencySample(req.url, samples, {
    method: req.method,
    ...(req.headers ? { headers: req.headers } : {}),
    ...(req.body !== undefined ? { body: req.body } : {}),
    timeoutMs: viaChat ? chatTimeoutMs(v.chat!.latencyBudget) : HEALTH_REQUEST_TIMEOUT_MS,
    signal: c.signal,
  });
  const budgets = ([['p50', cfg?.p50], ['p95', cfg?.p95], ['p99', cfg?.p99]] as const).filter((b): b is readonly ['p50' | 'p95' | 'p99', number] => b[1] !== undefined);
  const over = budgets.filter(([p, limit]) => s[p] !== null && s[p]! > limit);
  const threshold = budgets.length ? budgets.map(([p, limit]) => `${p} <= ${ms(limit)}`).join(', ') : '(no budget: set verify.latency)';
  const value = s.p50 === null ? 'no answer' : `p50 ${ms(s.p50)}, p95 ${ms(s.p95!)}, p99 ${ms(s.p99!)}`;
  let verdict: Verdict = 'ok';
  if (s.measured === 0 || s.failed === s.requested || over.length) verdict = 'fail';
  else if (s.failed > 0) verdict = 'warn';
  const what = `${samples} ${req.method} ${maskUrl(req.url, c.secrets)} one after another: ${s.measured} answered`;
  const spread = s.min !== null ? ` (min ${ms(s.min)}, max ${ms(s.max!)})` : '';
  const failed = s.failed ? `; ${s.failed} failed (last: ${s.lastError})` : '';
  const overText = over.length ? `; over budget: ${over.map(([p, limit]) => `${p} ${ms(s[p]!)} > ${ms(limit)}`).join(', ')}` : '';
  return {
    row: { kind: 'latency', check: 'latency', verdict, value, threshold, why: `${what}${spread}${failed}${overText}`, valueClass: s.measured === 0 ? 'no answer' : '' },
    figures: { p50: s.p50, p95: s.p95, p99: s.p99, samples: s.measured },
  };
}

export const DEFAULT_LATENCY_SAMPLES = 20;

/** The chat body with `message` (and optionally `user_id`) replaced; a non-object body becomes `{message}`. */
export function probeBody(body: unknown, message: string, userId?: string | number): string {
  const base = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return JSON.stringify({ ...base, ...(userId !== undefined ? { user_id: userId } : {}), message });
}

function probeRequest(chat: NonNullable<VerifyConfig['chat']>, address: string, body: string): HttpRequest {
  const headers: Record<string, string> = { ...chat.headers };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  return { method: 'POST', url: probeUrl(chat.url, address), headers, body };
}

export async function oversizedRow(v: VerifyConfig, c: HttpCtx): Promise<Row> {
  const bytes = v.hardening!.oversizedBytes;
  const req = probeRequest(v.chat!, c.address, probeBody(v.chat!.body, 'A'.repeat(bytes)));
  const out = await httpRequest(req, { timeoutMs: 10_000, signal: c.signal });
  const size = kibText(bytes / 1024);
  const head = `POST ${maskUrl(req.url, c.secrets)} with a ${size} message`;
  const base = { kind: 'oversized-body', check: 'oversized body', threshold: '413' } as const;
  if (out.kind === 'error') return { ...base, verdict: 'fail', value: 'no answer', why: `${head}: no answer: ${out.error} (expected a 413 answer)`, valueClass: 'no answer' };
  const ok = out.status === 413;
  return {
    ...base,
    verdict: ok ? 'ok' : 'fail',
    value: `${out.status} for ${size}`,
    why: ok ? `${head}: refused with 413` : `${head}: answered ${out.status}, expected 413 (the service accepts oversized messages); body: ${excerpt(out.body, c.secrets) || '(empty)'}`,
    valueClass: String(out.status),
  };
}

export async function rateLimitRow(v: VerifyConfig, c: HttpCtx): Promise<Row> {
  const { requests, userId } = v.hardening!.rateLimit!;
  const message = typeof (v.chat!.body as { message?: unknown })?.message === 'string' ? (v.chat!.body as { message: string }).message : 'rate limit probe';
  const req = probeRequest(v.chat!, c.address, probeBody(v.chat!.body, message, userId));
  // all at once, like the checklist's `for i in {1..50}; do curl ... & done`; bounded by the schema (<= 500)
  const outs = await Promise.all(Array.from({ length: requests }, () => httpRequest(req, { timeoutMs: 10_000, signal: c.signal })));
  const tally = new Map<string, number>();
  for (const o of outs) {
    const k = o.kind === 'answer' ? String(o.status) : o.error;
    tally.set(k, (tally.get(k) ?? 0) + 1);
  }
  const limited = tally.get('429') ?? 0;
  const seen = [...tally].map(([k, n]) => `${n}x ${k}`).join(', ');
  return {
    kind: 'rate-limit',
    check: 'rate limit',
    verdict: limited > 0 ? 'ok' : 'fail',
    value: `${limited} of ${requests} answered 429`,
    threshold: `>= 1 of ${requests} answered 429`,
    why: `${requests} POST ${maskUrl(req.url, c.secrets)} at once as user_id ${JSON.stringify(userId)}: ${seen}${limited ? '' : ' (no rate limit seen)'}`,
    valueClass: limited > 0 ? 'limited' : 'not limited',
  };
}

