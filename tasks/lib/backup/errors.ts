import { CutoverError, ExitCode, indent } from '../base/errors.ts';

/**
 * Taking a backup failed. Raised before anything on a host changed, so the exit code is
 * `refused` (or `interrupted` when the run was cancelled). The message names the host, the
 * command (secrets masked) and the tail of its stderr, and ends with what to do next.
 */
export class BackupFailedError extends CutoverError {
  readonly host: string;
  readonly command: string | null;
  readonly stderrTail: string;

  constructor(o: { host: string; what: string; command?: string; stderrTail?: string; next: string; exitCode?: ExitCode }) {
    const tail = (o.stderrTail ?? '').trim();
    super(
      `${o.host}: ${o.what}${o.command ? `\n  command: ${o.command}` : ''}${tail ? `\n${indent(tail)}` : ''}\n${o.next}`,
      o.exitCode ?? ExitCode.refused,
    );
    this.host = o.host;
    this.command = o.command ?? null;
    this.stderrTail = tail;
  }
}
