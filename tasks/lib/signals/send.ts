/** One request of the generator or the validation suite: status, latency, the served version, the body (capped). */
import type { RequestTemplate } from '../config/signals.ts';
import { requestBody } from './files.ts';

export interface Sent {
  readonly status: number | null;
  readonly latencyMs: number;
  /** The `x-app-version` header (or the body's `version`), when the service says it. */
  readonly version: string | null;
  readonly body: string;
  readonly retryAfterS: number | null;
  readonly error?: string;
}

const MAX_BODY = 256 * 1024;

export async function send(req: RequestTemplate, url: string, message: string, signal?: AbortSignal): Promise<Sent> {
  const t0 = performance.now();
  const timeout = AbortSignal.timeout(req.timeout);
  const body = requestBody(req.body, message);
  try {
    const res = await fetch(url, { method: req.method, headers: req.headers, ...(body !== undefined && req.method !== 'GET' ? { body } : {}), signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    const text = (await res.text()).slice(0, MAX_BODY);
    const latencyMs = Math.round((performance.now() - t0) * 10) / 10;
    let version = res.headers.get('x-app-version');
    if (!version) {
      try {
        const v = (JSON.parse(text) as { version?: unknown }).version;
        version = typeof v === 'string' ? v : null;
      } catch {
        version = null;
      }
    }
    const ra = Number(res.headers.get('retry-after'));
    return { status: res.status, latencyMs, version, body: text, retryAfterS: Number.isFinite(ra) && ra > 0 ? ra : null };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const latencyMs = Math.round((performance.now() - t0) * 10) / 10;
    const why = timeout.aborted ? `no answer within ${req.timeout} ms` : ((err as Error & { cause?: Error }).cause?.message ?? (err as Error).message);
    return { status: null, latencyMs, version: null, body: '', retryAfterS: null, error: why };
  }
}
