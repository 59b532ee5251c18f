/** Poll delays that suit a deploy: pollMin, doubling, capped at pollMax (the SDK waiter's 5-120 s do not). */

export function nextDelay(previousMs: number | undefined, minMs: number, maxMs: number): number {
  return previousMs === undefined ? Math.min(minMs, maxMs) : Math.min(maxMs, previousMs * 2);
}

/** The first `count` delays of the schedule: 250, 500, 1000, 2000, 2000 ... for 250 ms / 2 s. */
export function pollDelays(minMs: number, maxMs: number, count: number): number[] {
  const out: number[] = [];
  let d: number | undefined;
  for (let i = 0; i < count; i++) out.push((d = nextDelay(d, minMs, maxMs)));
  return out;
}

/** Resolves after `ms`, or at once (false) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((done) => {
    const onAbort = () => {
      clearTimeout(t);
      done(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      done(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
