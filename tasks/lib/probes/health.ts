/**
 * Health and readiness. `waitForHealth` polls at the configured interval (a restarting service
 * refuses connections for a while: that is retried, not failed) until the endpoint is healthy or
 * the timeout passes, and then reports the last thing it saw and everything it saw on the way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnvironmentConfig } from '../config/schema.ts';
import { httpRequest, probeUrl, type HttpOutcome } from './http.ts';
import { excerpt, formatMs, maskUrl } from './text.ts';
import type { HealthResult, ProbeAnswer, ProbeResult } from './types.ts';

type Verify = EnvironmentConfig['verify'];
export type HealthConfig = Verify['health'];
export type ReadinessConfig = NonNullable<Verify['readiness']>;

/** One request never waits longer than this, nor longer than the time left. */
export const HEALTH_REQUEST_TIMEOUT_MS = 5000;

export interface HealthOptions {
  /** Replaces `{host}` in the URL. */
  readonly address: string;
  /** The tag that must be reported in `versionField` (no version check without it, nor without versionField). */
  readonly expectVersion?: string;
  /** Interruption: the wait stops and the signal's reason is thrown. */
  readonly signal?: AbortSignal;
  /** Strings masked in everything reported. */
  readonly secrets?: readonly string[];
}

/** The value at a dot path (`version`, `build.version`, `items.0.tag`) of parsed JSON. */
export function fieldAt(json: unknown, path: string): unknown {
  let v: unknown = json;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export type VersionRead = { readonly ok: true; readonly version: string } | { readonly ok: false; readonly problem: string };

/** The version a health body reports in `field`: a string or number at that dot path. */
export function readVersion(body: string, field: string): VersionRead {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, problem: `the body is not JSON, so it has no field '${field}'` };
  }
  const v = fieldAt(json, field);
  if (v === undefined) return { ok: false, problem: `the body has no field '${field}'` };
  if (typeof v !== 'string' && typeof v !== 'number') return { ok: false, problem: `field '${field}' is ${JSON.stringify(v)}, not a version string` };
  return { ok: true, version: String(v) };
}

interface Verdict {
  readonly healthy: boolean;
  /** Short, for the 'seen' tally: '503', '200, version v1.1.0', 'connection refused (ECONNREFUSED)'. */
  readonly label: string;
  /** Why it is not healthy, in words. */
  readonly problem?: string;
  readonly version?: string;
}

function judge(out: HttpOutcome, cfg: HealthConfig, expectVersion: string | undefined): Verdict {
  if (out.kind === 'error') return { healthy: false, label: out.error, problem: `no answer: ${out.error}` };
  if (out.status !== cfg.expectStatus) return { healthy: false, label: String(out.status), problem: `status ${out.status}, expected ${cfg.expectStatus}` };
  if (cfg.expectBody !== undefined && !out.body.includes(cfg.expectBody))
    return { healthy: false, label: `${out.status} without the expected text`, problem: `the body does not contain ${JSON.stringify(cfg.expectBody)}` };
  if (!cfg.versionField) return { healthy: true, label: String(out.status) };
  const v = readVersion(out.body, cfg.versionField);
  if (!v.ok) return expectVersion === undefined ? { healthy: true, label: String(out.status) } : { healthy: false, label: `${out.status}, no version`, problem: v.problem };
  const label = `${out.status}, version ${v.version}`;
  if (expectVersion !== undefined && v.version !== expectVersion)
    return { healthy: false, label, version: v.version, problem: `it reports version ${v.version} in '${cfg.versionField}', expected ${expectVersion}` };
  return { healthy: true, label, version: v.version };
}

function answerOf(out: HttpOutcome, secrets: readonly string[]): ProbeAnswer {
  return out.kind === 'answer' ? { status: out.status, body: excerpt(out.body, secrets) } : { status: null, body: '', error: out.error };
}

export async function waitForHealth(cfg: HealthConfig, opts: HealthOptions): Promise<HealthResult> {
  const secrets = opts.secrets ?? [];
  const url = probeUrl(cfg.url, opts.address);
  const requested = { method: 'GET', url: maskUrl(url, secrets) };
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const seen: Record<string, number> = {};
  let attempts = 0;
  let last: { out: HttpOutcome; verdict: Verdict } | null = null;
  for (;;) {
    const attemptStart = performance.now();
    const left = cfg.timeout - elapsed();
    attempts++;
    const out = await httpRequest({ method: 'GET', url }, { timeoutMs: Math.max(1, Math.min(HEALTH_REQUEST_TIMEOUT_MS, left)), signal: opts.signal });
    const verdict = judge(out, cfg, opts.expectVersion);
    seen[verdict.label] = (seen[verdict.label] ?? 0) + 1;
    last = { out, verdict };
    if (verdict.healthy) break;
    // the next attempt starts one interval after this one started (a slow answer is not followed by a full pause)
    const pause = Math.max(0, cfg.interval - (performance.now() - attemptStart));
    // a last attempt gets at least half an interval: a request cut after 1 ms would only report its own timeout
    if (cfg.timeout - (elapsed() + pause) < cfg.interval / 2) break;
    await sleep(pause, undefined, { signal: opts.signal }).catch(() => {
      throw opts.signal?.reason;
    });
  }
  const waitedMs = Math.round(elapsed());
  const { out, verdict } = last;
  const seenText = Object.entries(seen)
    .map(([label, n]) => `${label} ×${n}`)
    .join(', ');
  const detail = verdict.healthy
    ? `GET ${requested.url}: ${verdict.label} after ${formatMs(waitedMs)} (${attempts} attempt${attempts === 1 ? '' : 's'})`
    : `GET ${requested.url} was not healthy after ${formatMs(waitedMs)} (${attempts} attempt${attempts === 1 ? '' : 's'}, every ${formatMs(cfg.interval)}, timeout ${formatMs(cfg.timeout)}): ` +
      `last ${verdict.problem}` +
      (out.kind === 'answer' ? `; body: ${excerpt(out.body, secrets) || '(empty)'}` : '') +
      `. Seen: ${seenText}`;
  return {
    name: 'health',
    ok: verdict.healthy,
    detail,
    requested,
    got: answerOf(out, secrets),
    waitedMs,
    attempts,
    ...(verdict.version !== undefined ? { version: verdict.version } : {}),
    seen,
  };
}

export interface CheckOptions {
  readonly address: string;
  readonly signal?: AbortSignal;
  readonly secrets?: readonly string[];
  /** One request; default 5 s. */
  readonly timeoutMs?: number;
}

/** One GET: the expected status, or a failure saying what came back. */
export async function checkReadiness(cfg: ReadinessConfig, opts: CheckOptions): Promise<ProbeResult> {
  const secrets = opts.secrets ?? [];
  const url = probeUrl(cfg.url, opts.address);
  const requested = { method: 'GET', url: maskUrl(url, secrets) };
  const timeoutMs = opts.timeoutMs ?? HEALTH_REQUEST_TIMEOUT_MS;
  const out = await httpRequest({ method: 'GET', url }, { timeoutMs, signal: opts.signal });
  const ok = out.kind === 'answer' && out.status === cfg.expectStatus;
  const what = out.kind === 'answer' ? `status ${out.status}${ok ? '' : `, expected ${cfg.expectStatus}`}; body: ${excerpt(out.body, secrets) || '(empty)'}` : `no answer: ${out.error}`;
  return {
    name: 'readiness',
    ok,
    detail: `GET ${requested.url}: ${what} (after ${formatMs(out.latencyMs)})`,
    requested,
    got: answerOf(out, secrets),
    waitedMs: out.latencyMs,
    attempts: 1,
  };
}
