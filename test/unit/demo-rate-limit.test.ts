// The demo service's rate limiter with a controlled clock: no wall clock, so no busy machine can change the answer.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module of the demo service (no types)
import { createRateLimiter, parseRateLimit } from '../../sandbox/demo-app/rate-limit.mjs';

describe('demo-app rate limiter', () => {
  it('allows `capacity` at once, refuses the next with Retry-After, refills continuously', () => {
    let now = 1_000_000;
    const l = createRateLimiter({ ...parseRateLimit('20/s'), now: () => now });
    const burst = Array.from({ length: 25 }, () => l.take('u').ok);
    expect(burst.filter(Boolean).length).toBe(20);
    expect(l.take('u')).toEqual({ ok: false, retryAfterS: 1 });
    expect(l.take('other').ok).toBe(true);
    now += 49; // 0.98 of a token: still refused
    expect(l.take('u').ok).toBe(false);
    now += 1; // one token back (50 ms at 20/s)
    expect(l.take('u').ok).toBe(true);
    expect(l.take('u').ok).toBe(false);
    now += 10_000; // full again, never more than capacity
    expect(Array.from({ length: 25 }, () => l.take('u').ok).filter(Boolean).length).toBe(20);
  });

  it('per minute: Retry-After in whole seconds until the next token', () => {
    let now = 0;
    const l = createRateLimiter({ ...parseRateLimit('30/min'), now: () => now });
    for (let i = 0; i < 30; i++) expect(l.take('u').ok).toBe(true);
    expect(l.take('u')).toEqual({ ok: false, retryAfterS: 2 });
    now += 2000;
    expect(l.take('u').ok).toBe(true);
  });

  it('refuses a bad limit', () => {
    expect(() => parseRateLimit('fast')).toThrow('bad rate limit "fast": write e.g. 20/s or 30/min');
    expect(parseRateLimit('20/min')).toEqual({ capacity: 20, windowMs: 60_000 });
  });
});
