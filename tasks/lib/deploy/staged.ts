/**
 * Several steps of the graph on one host in ONE command (commands/staged.ts): the command starts
 * with the first of them, and each step of the graph waits for its own part, so every step keeps
 * its place in the task list, its output, its ✖ and its time in the history. A failure belongs to
 * the command that was running: its error names that command and says what it printed on stderr,
 * exactly as when it ran alone.
 */
import { CommandFailedError } from '../base/errors.ts';
import { stagedScript, type StagedStep } from '../commands/staged.ts';
import { RS } from '../commands/sections.ts';
import { display } from '../commands/shell.ts';
import { lineRedactor } from '../reports/redact-lines.ts';
import { lastLines } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';

type Out = (line: string) => void;

interface Waiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined); // awaited by the step that needs it; a host set aside before never asks
  return { promise, resolve, reject };
}

export class StagedRun {
  private readonly waiting = new Map<string, Waiter>();
  private readonly outs = new Map<string, Out>();
  private readonly stepOf: string[] = [];
  private readonly commands = [] as StagedStep['commands'][number][];
  private readonly done = new Set<string>();
  /** The last line each step printed before its step of the graph asked for it. */
  private readonly last = new Map<string, string>();
  private readonly stderrOf = new Map<number, string>();
  private running = -1;
  private errCommand = -1;
  private started = false;

  constructor(
    private readonly runner: Runner,
    private readonly steps: readonly StagedStep[],
    private readonly o: { readonly signal: AbortSignal; readonly secrets: readonly string[] },
  ) {
    for (const s of steps) {
      this.waiting.set(s.name, waiter());
      for (const c of s.commands) {
        this.stepOf.push(s.name);
        this.commands.push(c);
      }
    }
  }

  has(step: string): boolean {
    return this.waiting.has(step);
  }

  /** Starts the command (once). */
  start(): this {
    if (this.started) return this;
    this.started = true;
    const out = lineRedactor(this.o.secrets, (text) => this.lines(text, false));
    const err = lineRedactor(this.o.secrets, (text) => this.lines(text, true));
    const cmd = stagedScript(this.steps);
    void this.runner
      // the restart follows (or, on failure, the commands that put the host back): a session opens for it now
      .exec(cmd, { signal: this.o.signal, thenMore: true, onStdout: (c) => out.push(c), onStderr: (c) => err.push(c) })
      .then(
        (r) => {
          out.end();
          err.end();
          if (r.code === 0) {
            for (const w of this.waiting.values()) w.resolve(); // a runner that does not stream (the recorder): all done
            return;
          }
          // killed between two steps: it is the next command that did not run
          let i = Math.max(0, this.running);
          if (this.done.has(this.stepOf[i]!) && i + 1 < this.commands.length) i++;
          const c = this.commands[i]!;
          const tail = lastLines(this.stderrOf.get(i) ?? '', 20) + (r.error ? `\n(${r.error})` : '');
          this.failFrom(i, new CommandFailedError(this.runner.host.name, display(c, this.o.secrets), r.code, tail || lastLines(r.stdout, 20), r.signal));
        },
        (e: Error) => this.failFrom(Math.max(0, this.running), e),
      );
    return this;
  }

  /** Resolves when `step` is done on the host; its output goes to `out` meanwhile. Rejects with the failure of its command. */
  until(step: string, out: Out): Promise<void> {
    const w = this.waiting.get(step);
    if (!w) throw new Error(`no step ${step} in this command`);
    this.outs.set(step, out);
    const last = this.last.get(step);
    if (last !== undefined) out(last);
    this.start();
    return w.promise;
  }

  private failFrom(i: number, e: Error): void {
    const failed = this.stepOf[i];
    let reached = false;
    for (const s of this.steps) {
      reached ||= s.name === failed;
      // the steps before it are done (their markers came); it and the ones after it fail
      if (reached) this.waiting.get(s.name)!.reject(e);
    }
  }

  private lines(text: string, stderr: boolean): void {
    for (const line of text.split('\n')) {
      if (!line) continue;
      if (line.startsWith(`${RS}run `)) {
        const i = Number(line.slice(5));
        if (stderr) this.errCommand = i;
        else this.running = i;
      } else if (line.startsWith(`${RS}done `)) {
        const step = line.slice(6);
        this.done.add(step);
        this.waiting.get(step)?.resolve();
      } else {
        const i = stderr ? this.errCommand : this.running;
        if (stderr) this.stderrOf.set(i, `${this.stderrOf.get(i) ?? ''}${line}\n`.slice(-65_536));
        const step = this.stepOf[Math.max(0, i)];
        if (!step || !line.trim()) continue;
        const out = this.outs.get(step);
        if (out) out(line);
        else this.last.set(step, line);
      }
    }
  }
}
