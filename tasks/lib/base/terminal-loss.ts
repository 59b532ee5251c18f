/**
 * The terminal may go away in the middle of a run: the SSH session to the bastion drops (SIGHUP),
 * or the reader of a pipe exits (`| head`, a killed `tee`: EPIPE). Node's defaults then end the
 * process where it stands: a host half-deployed (code checked out, services not restarted), the
 * lock left, the history saying "unfinished". So while a changing run holds the process (the
 * kernel, from its start to its report) the run goes on to its end, a failure rolled back as
 * usual, and records itself in the history and the report as always; only its output is lost.
 * Anything else (a `verify --watch`, `status | head`) stops the way Ctrl-C stops it: a watcher with
 * nobody to watch must not poll the hosts forever. Ctrl-C and SIGTERM still interrupt a changing
 * run the careful way (../kernel/interrupt.ts).
 */

/** Where the output went: null while the terminal is there. */
let lost: string | null = null;
let installed = false;
let holding = 0;

function gone(why: string): void {
  const first = lost === null;
  lost ??= `${why} at ${new Date().toISOString()}`;
  // nothing that must finish: end as an interrupted run would (its own handler, else the default)
  if (first && holding === 0) process.kill(process.pid, 'SIGTERM');
}

/** Keeps this process alive when its terminal or the reader of its output goes away (once per process). */
export function outliveTheTerminal(): void {
  if (installed) return;
  installed = true;
  process.on('SIGHUP', () => gone('the terminal hung up (SIGHUP)'));
  for (const [name, stream] of [['standard output', process.stdout], ['standard error', process.stderr]] as const) {
    // a write to a closed pipe or a hung-up terminal fails (EPIPE, EIO): nobody reads it any more
    stream.on('error', (err: NodeJS.ErrnoException) => gone(`${name} failed (${err.code ?? err.message})`));
  }
}

/** A changing run that must reach its end whatever happens to the terminal; call the result when it has. */
export function holdThroughTerminalLoss(): () => void {
  holding++;
  let released = false;
  return () => {
    if (!released) [released, holding] = [true, holding - 1];
  };
}

/** Why the output stopped reaching anyone, if it did (a run's report says it). */
export function terminalLost(): string | null {
  return lost;
}
