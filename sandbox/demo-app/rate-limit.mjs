// A token bucket per key: `capacity` requests at once, refilled at `capacity` per `windowMs`.
// Pure apart from the clock, which is injected (tests drive it; the server passes Date.now).

/** '20/s', '20/min', '30/m' -> { capacity, windowMs }; throws on anything else. */
export function parseRateLimit(text) {
  const m = /^(\d+)\/(s|sec|m|min)$/.exec(String(text).trim());
  if (!m || Number(m[1]) < 1) throw new Error(`bad rate limit ${JSON.stringify(text)}: write e.g. 20/s or 30/min`);
  return { capacity: Number(m[1]), windowMs: m[2].startsWith('s') ? 1000 : 60_000 };
}

export function createRateLimiter({ capacity, windowMs, now = Date.now, maxKeys = 10_000 }) {
  const buckets = new Map();
  const perMs = capacity / windowMs;
  return {
    capacity,
    windowMs,
    /** Takes a token for `key`: { ok } and, when refused, the whole seconds until one is back. */
    take(key) {
      const t = now();
      const b = buckets.get(key) ?? { tokens: capacity, at: t };
      b.tokens = Math.min(capacity, b.tokens + Math.max(0, t - b.at) * perMs);
      b.at = t;
      const ok = b.tokens >= 1;
      if (ok) b.tokens -= 1;
      buckets.set(key, b);
      if (buckets.size > maxKeys) for (const [k, v] of buckets) if (t - v.at > windowMs) buckets.delete(k);
      return ok ? { ok } : { ok, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
    },
  };
}
