/** Running a state command whose exit codes carry answers (75 = held), and failing on the others. */
import type { Command } from '../commands/shell.ts';
import { CommandFailedError } from '../base/errors.ts';
import { lastLines } from '../runners/run.ts';
import type { ExecOptions, ExecResult, Runner } from '../runners/types.ts';

/** `what` names the operation in the error (the scripts are long; the host and stderr say the rest). */
export async function execExpecting(runner: Runner, cmd: Command, what: string, codes: readonly number[], opts: ExecOptions = {}): Promise<ExecResult> {
  const r = await runner.exec(cmd, opts);
  if (r.code === null || !codes.includes(r.code)) {
    const tail = lastLines(r.stderr || r.stdout, 20) + (r.error ? `\n(${r.error})` : '');
    throw new CommandFailedError(runner.host.name, what, r.code, tail, r.signal);
  }
  return r;
}
