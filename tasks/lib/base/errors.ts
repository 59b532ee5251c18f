/**
 * Domain errors. Library code throws these; only an entry point turns them into an exit code
 * (see exitCodeFor) and a message. Every message ends with what to do next.
 */

/** Exit codes shared by every task (DESIGN.md). */
export const ExitCode = {
  ok: 0,
  rolledBack: 1,
  refused: 2,
  needsHuman: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class CutoverError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.refused,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments: nothing was touched. */
export class UsageError extends CutoverError {
  constructor(message: string) {
    super(message, ExitCode.refused);
  }
}

/** The environment file or the secrets it needs are wrong: every problem at once. */
export class ConfigError extends CutoverError {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'), ExitCode.refused);
  }
}

/** A command ran on a host and failed (non-zero exit, killed, or timed out). */
export class CommandFailedError extends CutoverError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly code: number | null,
    readonly stderrTail: string,
    readonly signal?: string,
  ) {
    const how = code === null ? `was killed${signal ? ` (${signal})` : ''}` : `exited ${code}`;
    const tail = stderrTail.trim();
    super(`${host}: \`${command}\` ${how}${tail ? `\n${indent(tail)}` : ''}`, ExitCode.refused);
  }
}

/** The host could not be reached or the connection died. */
export class HostUnreachableError extends CutoverError {
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`${host}: ${detail}`, ExitCode.refused);
  }
}

/** The host presented a key that is not the one in known_hosts: possible man-in-the-middle. */
export class HostKeyError extends CutoverError {
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`${host}: ${detail}`, ExitCode.refused);
  }
}

export function exitCodeFor(err: unknown): ExitCode {
  return err instanceof CutoverError ? err.exitCode : ExitCode.needsHuman;
}

export function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}
