/**
 * Recorder: runs nothing, remembers every command exactly as it would run. Used by --dry-run
 * (wrapping a real runner so read-only commands still answer) and by unit tests.
 */
import { display, type Command } from '../commands/shell.ts';
import type { ExecOptions, ExecResult, HostTarget, Runner } from './types.ts';

export type Reply = Partial<Pick<ExecResult, 'code' | 'stdout' | 'stderr'>>;

export class RecordingRunner implements Runner {
  readonly commands: Command[] = [];

  constructor(
    readonly host: HostTarget,
    private readonly opts: {
      /** Where each command is printed (dry-run); tests read `commands` instead. */
      print?: (line: string) => void;
      /** Answers for tests; default exit 0 and no output. */
      reply?: (cmd: Command) => Reply;
      /** Read-only commands are passed here to answer for real (dry-run). */
      readOnly?: Runner;
      secrets?: readonly string[];
      /** Called with every command recorded (not the read-only ones answered for real). */
      onRecord?: (cmd: Command) => void;
    } = {},
  ) {}

  async exec(cmd: Command, execOpts: ExecOptions = {}): Promise<ExecResult> {
    if (cmd.readOnly && this.opts.readOnly) return this.opts.readOnly.exec(cmd, execOpts);
    this.commands.push(cmd);
    this.opts.onRecord?.(cmd);
    this.opts.print?.(`would run on ${this.host.name}: ${display(cmd, this.opts.secrets)}`);
    const r = this.opts.reply?.(cmd) ?? {};
    execOpts.sink?.end();
    return { host: this.host.name, code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', stdoutBytes: (r.stdout ?? '').length, durationMs: 0 };
  }

  /** Only what really ran: the read-only commands answered by the real runner. */
  get commandsRun(): number {
    return this.opts.readOnly?.commandsRun ?? 0;
  }

  async close(): Promise<void> {
    await this.opts.readOnly?.close();
  }
}
