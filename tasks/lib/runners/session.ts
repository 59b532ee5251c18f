/**
 * A command that talks back while it runs: its standard input stays open, so the caller can read
 * an answer (`waitFor`) and then tell it what to do next (`send`), in ONE command on the host
 * instead of one per question. What it prints is kept whole (it is small: lock and history
 * answers). Used for "take the lock, then record the start" and "record the end, then release".
 */
import { PassThrough, Writable } from 'node:stream';
import type { Command } from '../commands/shell.ts';
import type { ExecOptions, ExecResult, Runner } from './types.ts';

export class Session {
  private out = '';
  private err = '';
  private readonly input = new PassThrough();
  private waiters: { test: (out: string) => boolean; resolve: () => void }[] = [];
  /** The command's result once it ended (never rejects: a failure to start is a result with an error). */
  readonly done: Promise<ExecResult>;
  private ended = false;

  constructor(runner: Runner, cmd: Command, opts: Omit<ExecOptions, 'stdinStream' | 'sink'> = {}) {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, next) => {
        this.out += chunk.toString('utf8');
        this.check();
        next();
      },
    });
    if (cmd.stdin) this.input.write(cmd.stdin);
    const onStderr = (chunk: string) => {
      this.err = (this.err + chunk).slice(-16_384);
      opts.onStderr?.(chunk);
    };
    this.done = runner.exec(cmd, { ...opts, stdinStream: this.input, sink, onStderr }).then(
      (r) => {
        // a runner that answers without streaming (the recorder) gives its stdout instead
        if (!this.out && r.stdout) this.out = r.stdout;
        return r;
      },
      (e: Error): ExecResult => ({ host: runner.host.name, code: null, error: e.message, stdout: '', stderr: '', stdoutBytes: 0, durationMs: 0 }),
    ).then((r) => {
      this.ended = true;
      if (!this.input.writableEnded) this.input.end(); // nothing more goes to a command that ended
      this.check();
      return r;
    });
  }

  /** The end of what it printed on standard error so far. */
  get stderr(): string {
    return this.err;
  }

  /** Everything printed on standard output so far. */
  get stdout(): string {
    return this.out;
  }

  /** Resolves once `test` holds for the output so far, or the command ended (check `ended` then). */
  waitFor(test: (out: string) => boolean): Promise<void> {
    if (this.ended || test(this.out)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** Has the command ended? */
  get finished(): boolean {
    return this.ended;
  }

  send(text: string): void {
    if (!this.ended && !this.input.writableEnded) this.input.write(text);
  }

  /** Sends the last input and closes standard input; the command's result. */
  end(text = ''): Promise<ExecResult> {
    if (!this.ended && !this.input.writableEnded) this.input.end(text);
    return this.done;
  }

  private check(): void {
    const ready = this.waiters.filter((w) => this.ended || w.test(this.out));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
