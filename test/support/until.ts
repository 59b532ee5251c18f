/** Polls `fn` every 10 ms until it returns a truthy value; fails naming `what` after `timeoutMs` (a bound on a hang, not a timing). */
export async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
