/** The one context of a restore run, filled step by step. */
import type { Backup } from '../backup/dump.ts';
import type { RestoreSource } from '../backup/source.ts';
import type { PgTarget } from '../commands/pg.ts';
import type { KernelCtx } from '../kernel/procedure.ts';
import type { Runner } from '../runners/types.ts';
import type { DataState, RestoreOutcome } from './outcome.ts';

export interface RestoreCtx extends KernelCtx {
  readonly task: 'restore';
  readonly yes: boolean;
  /** The backup as named on the command line. */
  readonly arg: string;
  readonly db: PgTarget & { readonly format: 'custom' | 'plain' };
  readonly password?: string;
  /** Where pg_dump and pg_restore run. */
  readonly runner: Runner;
  /** Where the dump is uploaded for pg_restore, on the runner's machine. */
  readonly scratchDir: string;

  // read in preflight
  /** The backup being restored (read completely and checked before anything else). */
  source: RestoreSource | null;
  liveTag: string | null;
  /** Row counts just before the confirmation (shown in the plan). */
  countsBefore: Readonly<Record<string, number>>;

  // the run
  result: RestoreOutcome | null;
  dataState: DataState;
  safety: Backup | null;
  /** pg_restore was started: from here on, the database may have changed. */
  restoreStarted: boolean;
  /** Row counts after the restore (or after a failure), null when they could not be counted. */
  countsAfter: Readonly<Record<string, number>> | null;
  mismatches: string[];
}
