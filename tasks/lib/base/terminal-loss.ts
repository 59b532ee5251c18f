/**
 * The terminal may go away in the middle of a run: the SSH session to the bastion drops (SIGHUP),
 * or the reader of a pipe exits (`| head`, a killed `tee`: EPIPE). Node's defaults then end the
 * process where it stands: a host half-deployed (code checked out, services not restarted), the
 * lock left, the history saying "unfinished". Instead the run goes on to its end, a failure rolled
 * back as usual, and records itself in the history and the report as always; only its output is
 * lost. Ctrl-C and SIGTERM still interrupt it the careful way (../kernel/interrupt.ts).
 */

/** Where the output went: null while the terminal is there. */
let lost: string | null = null;
let installed = false;

/** Keeps this process alive when its terminal or the reader of its output goes away (once per process). */
export function outliveTheTerminal(): void {
  if (installed) return;
  installed = true;
  process.on('SIGHUP', () => {
    lost ??= `the terminal hung up (SIGHUP) at ${new Date().toISOString()}`;
  });
  for (const [name, stream] of [['standard output', process.stdout], ['standard error', process.stderr]] as const) {
    // a write to a closed pipe or a hung-up terminal fails (EPIPE, EIO): nobody reads it any more
    stream.on('error', (err: NodeJS.ErrnoException) => {
      lost ??= `${name} failed (${err.code ?? err.message}) at ${new Date().toISOString()}`;
    });
  }
}

/** Why the output stopped reaching anyone, if it did (a run's report says it). */
export function terminalLost(): string | null {
  return lost;
}
