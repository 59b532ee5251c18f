import { createInterface } from 'node:readline/promises';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';

/** Refused before anything is read or touched: a restore asks, and a pipe cannot answer. */
export function requireTerminalOrYes(yes: boolean, isTTY: boolean | undefined): void {
  if (!yes && !isTTY)
    throw new UsageError('restore replaces a database and asks you to type its name, but there is no terminal to ask in: run it in a terminal, or pass --yes. Nothing was changed.');
}

/** The operator types the database's name; anything else (or Ctrl-C) stops, nothing changed. */
export async function confirmDatabaseName(database: string, signal: AbortSignal): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const stop = new AbortController();
  rl.on('SIGINT', () => stop.abort()); // Ctrl-C at the prompt reaches readline, not the process
  try {
    const answer = await rl.question(`Type the database name "${database}" to replace it (anything else stops here, nothing changed): `, { signal: AbortSignal.any([signal, stop.signal]) });
    if (answer.trim() !== database) throw new UsageError(`confirmation not given (typed ${JSON.stringify(answer.trim())}); nothing was changed.`);
  } catch (err) {
    if (stop.signal.aborted || signal.aborted) throw new CutoverError('interrupted at the confirmation; nothing was changed.', ExitCode.interrupted);
    throw err;
  } finally {
    rl.close();
  }
}
