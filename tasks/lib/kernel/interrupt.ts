/**
 * Ctrl-C (and SIGTERM) for every task, read-only or changing: the first one aborts the run's
 * signal (cleanup runs: commands are stopped, the lock released, the state said), a second one
 * quits at once, the default way.
 */

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Stop listening (in a finally). */
  dispose(): void;
}

export function onInterrupt(say: (text: string) => void, what = 'stopping, cleaning up'): Interrupt {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      dispose();
      process.kill(process.pid, sig); // second Ctrl-C: stop now, the default way
      return;
    }
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
