/**
 * The test chat request: status, every expected string in the answer, and the latency within the
 * budget (the measured latency is reported, even past the budget, up to a hard limit).
 */
import type { EnvironmentConfig } from '../config/schema.ts';
import { httpRequest, MAX_BODY_BYTES, probeUrl, type HttpRequest } from './http.ts';
import { excerpt, formatMs, maskUrl } from './text.ts';
import type { ProbeResult } from './types.ts';
import type { CheckOptions } from './health.ts';

export type ChatConfig = NonNullable<EnvironmentConfig['verify']['chat']>;

/** How long to wait past the budget so a slow answer is still measured, not just "too slow". */
export function chatTimeoutMs(budgetMs: number): number {
  return budgetMs * 2 + 1000;
}

const SECRET_HEADER = /auth|token|key|secret|cookie|password/i;

/** The HTTP request for a chat config: an object body is sent as JSON; GET sends no body. */
export function chatRequest(cfg: ChatConfig, address: string): HttpRequest {
  const headers: Record<string, string> = { ...cfg.headers };
  let body: string | undefined;
  if (cfg.method !== 'GET' && cfg.body !== undefined) {
    body = typeof cfg.body === 'string' ? cfg.body : JSON.stringify(cfg.body);
    if (typeof cfg.body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  return { method: cfg.method, url: probeUrl(cfg.url, address), headers, ...(body !== undefined ? { body } : {}) };
}

export async function checkChat(cfg: ChatConfig, opts: CheckOptions): Promise<ProbeResult> {
  const req = chatRequest(cfg, opts.address);
  // header values such as an Authorization token are masked if the service echoes them
  const secrets = [...(opts.secrets ?? []), ...Object.entries(cfg.headers).filter(([k]) => SECRET_HEADER.test(k)).map(([, v]) => v)];
  const requested = { method: req.method, url: maskUrl(req.url, secrets) };
  const timeoutMs = opts.timeoutMs ?? chatTimeoutMs(cfg.latencyBudget);
  const out = await httpRequest(req, { timeoutMs, signal: opts.signal });
  const base = { name: 'chat', requested, waitedMs: out.latencyMs, attempts: 1, threshold: cfg.latencyBudget };
  const head = `${req.method} ${requested.url}`;
  if (out.kind === 'error') {
    const detail = out.timedOut
      ? `${head}: no answer within ${formatMs(timeoutMs)} (latency budget ${formatMs(cfg.latencyBudget)})`
      : `${head}: no answer: ${out.error} (after ${formatMs(out.latencyMs)})`;
    return { ...base, ok: false, detail, got: { status: null, body: '', error: out.error } };
  }
  const problems: string[] = [];
  if (out.status !== cfg.expectStatus) problems.push(`status ${out.status}, expected ${cfg.expectStatus}`);
  const missing = cfg.expectContains.filter((s) => !out.body.includes(s));
  if (missing.length)
    problems.push(`the answer does not contain ${missing.map((s) => JSON.stringify(s)).join(', ')}${out.truncated ? ` (only its first ${MAX_BODY_BYTES} bytes were read)` : ''}`);
  if (out.latencyMs > cfg.latencyBudget) problems.push(`it took ${formatMs(out.latencyMs)}, over the budget of ${formatMs(cfg.latencyBudget)}`);
  const body = excerpt(out.body, secrets);
  const detail = problems.length
    ? `${head}: ${problems.join('; ')}. Body: ${body || '(empty)'}`
    : `${head}: ${out.status} in ${formatMs(out.latencyMs)} (budget ${formatMs(cfg.latencyBudget)})`;
  return { ...base, ok: problems.length === 0, detail, got: { status: out.status, body }, value: out.latencyMs };
}
