/** Ctrl-C for the backup and restore tasks: the first one aborts the run (cleanup runs), a second one quits at once. */

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Stop listening (in a finally). */
  dispose(): void;
}

export function onInterrupt(say: (text: string) => void): Interrupt {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.removeListener(sig, handler);
      process.kill(process.pid, sig); // second Ctrl-C: the default way
      return;
    }
    say(`\n${sig}: stopping, cleaning up (Ctrl-C again to quit at once)`);
    ac.abort(new Error(`interrupted (${sig})`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}
