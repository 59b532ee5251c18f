import { display, type Command } from '../commands/shell.ts';
import { CommandFailedError } from '../base/errors.ts';
import type { ExecOptions, ExecResult, Runner } from './types.ts';

/** Run and require exit 0; a failure names the host, the command (secrets masked) and the stderr tail. */
export async function run(runner: Runner, cmd: Command, opts: ExecOptions & { secrets?: readonly string[] } = {}): Promise<ExecResult> {
  const r = await runner.exec(cmd, opts);
  if (r.code !== 0) {
    const tail = lastLines(r.stderr || r.stdout, 20) + (r.error ? `\n(${r.error})` : '');
    throw new CommandFailedError(runner.host.name, display(cmd, opts.secrets), r.code, tail, r.signal);
  }
  return r;
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
