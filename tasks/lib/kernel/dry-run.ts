/**
 * --dry-run is the real graph run against recording runners: read-only commands answer for real,
 * anything else is recorded here instead of run, and steps whose effect is not a host command
 * (a dump streamed here, an HTTP check, an SSM request) record what they would do. Nothing the
 * list prints is written by hand beside the graph, so it cannot drift from what a run does.
 */
import { display, type Command } from '../commands/shell.ts';
import { RecordingRunner } from '../runners/recorder.ts';
import type { Runner } from '../runners/types.ts';

export interface DryEntry {
  /** A host name, `this machine`, `AWS SSM`... */
  readonly where: string;
  readonly what: string;
}

export class DryLog {
  readonly entries: DryEntry[] = [];
  constructor(private readonly secrets: readonly string[]) {}

  add(where: string, what: string): void {
    this.entries.push({ where, what });
  }

  command(where: string, cmd: Command): void {
    this.add(where, display(cmd, this.secrets));
  }

  /** A runner that answers read-only commands through `real` and records the others. */
  runner(real: Runner): Runner {
    return new RecordingRunner(real.host, { readOnly: real, secrets: this.secrets, onRecord: (cmd) => this.command(real.host.name, cmd) });
  }

  lines(): string[] {
    if (!this.entries.length) return ['Dry run: nothing would run.'];
    // a script of several lines (one command on the host) shows each of its lines with its host
    return ['Dry run: these would run, in this order (nothing was changed):', ...this.entries.flatMap((e) => e.what.split('\n').map((l) => `  [${e.where}] ${l}`))];
  }
}
