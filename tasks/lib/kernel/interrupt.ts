/**
 * Ctrl-C (and SIGTERM) for every task, read-only or changing: the first one aborts the run's
 * signal (cleanup runs: commands are stopped, the lock released, the state said), a second one
 * quits at once, the default way.
 *
 * A repeat of the same signal within REPEAT_WINDOW_MS of the first is the same interruption, not a
 * second one: `npx tsx` passes the terminal's signal on to this process and, when this process has
 * not reported it back within 30 ms (a busy machine), sends it again. Without the window that echo
 * read as "quit at once" and skipped the cleanup (the lock left, no "finished" record).
 */

export const REPEAT_WINDOW_MS = 1000;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Stop listening (in a finally). */
  dispose(): void;
}

export function onInterrupt(say: (text: string) => void, what = 'stopping, cleaning up'): Interrupt {
  const ac = new AbortController();
  let first: { sig: NodeJS.Signals; at: number } | undefined;
  const handler = (sig: NodeJS.Signals) => {
    const now = performance.now();
    if (first) {
      if (sig === first.sig && now - first.at < REPEAT_WINDOW_MS) return; // the relay's echo of the first
      dispose();
      process.kill(process.pid, sig); // second Ctrl-C: stop now, the default way
      return;
    }
    first = { sig, at: now };
    say(`\n${sig}: ${what} (Ctrl-C again to quit at once)`);
    ac.abort(new InterruptedError(sig));
  };
  const dispose = () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return { signal: ac.signal, dispose };
}

/** The abort reason of an interrupted run. */
export class InterruptedError extends Error {
  constructor(readonly sig: NodeJS.Signals) {
    super(`interrupted (${sig})`);
  }
}
