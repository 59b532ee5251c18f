import type { Readable, Writable } from 'node:stream';
import type { Command } from '../commands/shell.ts';

/** Everything a runner needs to know about the host it talks to. */
export interface HostTarget {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
}

export interface ExecOptions {
  /** Streamed to the command's standard input (a dump being restored); replaces Command.stdin. */
  readonly stdinStream?: Readable;
  /** Standard output goes here instead of being kept (a dump, a big log). Only a tail is kept. */
  readonly sink?: Writable;
  /** Called with each chunk of output as it arrives (task output, progress). */
  readonly onStdout?: (chunk: string) => void;
  readonly onStderr?: (chunk: string) => void;
  /** Kill the command after this long; the result then has code null and signal 'TIMEOUT'. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Another command follows on this host soon (the next step's): an SSH runner opens a session for
   * it now, beside this one, so that it starts without a round trip of its own. Set it only where
   * a command does follow: a session never used is an exec request for nothing.
   */
  readonly thenMore?: boolean;
  /** Started ahead of its use (it waits on its input first): it leaves a session opened ahead to a command that is waited for. */
  readonly ahead?: boolean;
}

export interface ExecResult {
  readonly host: string;
  /** null when the command was killed, timed out, or the connection died under it. */
  readonly code: number | null;
  readonly signal?: string;
  /** Why there is no exit code: 'timed out after 30000 ms', 'connection lost', 'aborted'. */
  readonly error?: string;
  /** The last TAIL_BYTES of output (the whole output when it is shorter). */
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: number;
  readonly durationMs: number;
}

/** How output, history and reports name the machine cutover runs on. */
export const THIS_MACHINE = '(this machine)';

/** Keep at most this much of each stream in memory; the rest goes to the sink or is dropped. */
export const TAIL_BYTES = 64 * 1024;

export interface Runner {
  readonly host: HostTarget;
  /** Run and report; never throws for a non-zero exit (see `run` in ./run.ts). */
  exec(cmd: Command, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
  /**
   * Commands started on the host so far: each one SSH exec request (a round trip over the network),
   * or one local process. The runner's own (stopping a command a dropped connection left) count too.
   */
  readonly commandsRun?: number;
  /** Starts connecting ahead of the first command (SSH), so the handshake overlaps other work. */
  prewarm?(): void;
}

/** The result of a command that was never started because its run was aborted already. */
export function notStarted(host: string, opts: ExecOptions): ExecResult {
  if (opts.sink && !opts.sink.writableEnded) opts.sink.end();
  return { host, code: null, error: 'aborted before it started', stdout: '', stderr: '', stdoutBytes: 0, durationMs: 0 };
}
