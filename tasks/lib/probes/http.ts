/**
 * One HTTP request with Node's built-in fetch: a timeout that covers the whole exchange, the body
 * read only up to a cap (the rest is discarded), and failures turned into words instead of throws.
 */

/** Bodies are read up to this many bytes for matching; the rest is cancelled, never held. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface HttpOptions {
  /** Whole exchange, headers and body. */
  readonly timeoutMs: number;
  /** The caller's interruption (Ctrl-C); when it fires, httpRequest throws its reason. */
  readonly signal?: AbortSignal;
  readonly maxBodyBytes?: number;
}

export type HttpOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly body: string; readonly bodyBytes: number; readonly truncated: boolean; readonly latencyMs: number }
  | { readonly kind: 'error'; readonly error: string; readonly timedOut: boolean; readonly latencyMs: number };

/** The probe URL for a host: `{host}` replaced by its address (an IPv6 address in brackets). */
export function probeUrl(template: string, address: string): string {
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return template.replaceAll('{host}', host);
}

/** `http://{host}:8001/api/v1/health` -> the same on `port`. */
export function withPort(url: string, port: number): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)(\[[^\]]*\]|[^/:?#]*)(?::\d+)?/i.exec(url);
  if (!m) return url;
  return `${m[1]}${m[2]}:${port}${url.slice(m[0].length)}`;
}

export async function httpRequest(req: HttpRequest, opts: HttpOptions): Promise<HttpOutcome> {
  const timeout = AbortSignal.timeout(Math.max(1, Math.round(opts.timeoutMs)));
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const cap = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const started = performance.now();
  const since = () => Math.round((performance.now() - started) * 10) / 10; // 0.1 ms: loopback answers take about 1 ms
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal, redirect: 'manual' });
    const { text, bytes, truncated } = await readCapped(res, cap);
    return { kind: 'answer', status: res.status, body: text, bodyBytes: bytes, truncated, latencyMs: since() };
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const timedOut = timeout.aborted;
    return { kind: 'error', error: timedOut ? `no answer within ${Math.round(opts.timeoutMs)} ms` : describeFetchError(err), timedOut, latencyMs: since() };
  }
}

async function readCapped(res: Response, cap: number): Promise<{ text: string; bytes: number; truncated: boolean }> {
  if (!res.body) return { text: '', bytes: 0, truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = cap - bytes;
    chunks.push(value.length > room ? value.subarray(0, room) : value);
    bytes += Math.min(value.length, room);
    if (value.length >= room) {
      truncated = value.length > room || !(await isEnd(reader));
      if (truncated) await reader.cancel().catch(() => {});
      break;
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), bytes, truncated };
}

// A body of exactly `cap` bytes is not truncated: peek once for more.
async function isEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  const next = await reader.read();
  return next.done || next.value.length === 0;
}

const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server before it answered',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'the body stopped arriving',
};

/** undici says 'fetch failed' and hides the reason in `cause`: dig it out. */
export function describeFetchError(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code in CODES) return `${CODES[code]} (${code})`;
    if (!(e.cause instanceof Error)) {
      const tail = typeof code === 'string' ? ` (${code})` : '';
      return e.message && e.message !== 'fetch failed' ? `${e.message}${tail}` : `request failed${tail}`;
    }
    e = e.cause;
  }
  return String(err);
}
