/** The typed confirmation before a run changes something: the operator types a name (the environment's, or the database's). */
import { createInterface } from 'node:readline/promises';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';

/** Refused before anything is read or touched: the run asks, and a pipe cannot answer. */
export function requireTerminalOrYes(what: string, yes: boolean, isTTY: boolean | undefined): void {
  if (!yes && !isTTY) throw new UsageError(`${what}, but there is no terminal to ask in: run it in a terminal, or pass --yes. Nothing was changed.`);
}

/** The operator types `expected`; anything else (or Ctrl-C) stops, nothing changed. */
export async function confirmByTyping(expected: string, question: string, signal: AbortSignal): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const stop = new AbortController();
  rl.on('SIGINT', () => stop.abort()); // Ctrl-C at the prompt reaches readline, not the process
  try {
    const answer = await rl.question(`\n${question} (anything else stops here, nothing changed): `, { signal: AbortSignal.any([signal, stop.signal]) });
    if (answer.trim() !== expected) throw new UsageError(`confirmation not given (typed ${JSON.stringify(answer.trim())}); nothing was changed.`);
  } catch (err) {
    if (stop.signal.aborted || signal.aborted) throw new CutoverError('interrupted at the confirmation; nothing was changed.', ExitCode.interrupted);
    throw err;
  } finally {
    rl.close();
  }
}
