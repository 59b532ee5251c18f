/** The one context of a restore run, filled step by step. */
import type { Backup } from '../backup/dump.ts';
import type { BackupEntry } from '../backup/retention.ts';
import type { PgTarget } from '../commands/pg.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import type { NotifyResult } from '../notify/webhook.ts';
import type { Runner } from '../runners/types.ts';
import type { StepRecord } from '../base/run.ts';
import type { DataState, RestoreOutcome } from './outcome.ts';

export interface RestoreRun {
  readonly env: LoadedEnvironment;
  readonly runId: string;
  readonly startedAt: Date;
  readonly who: string;
  /** The backup being restored (verified before anything else). */
  readonly source: BackupEntry;
  readonly db: PgTarget & { readonly format: 'custom' | 'plain' };
  readonly password?: string;
  readonly secrets: readonly string[];
  /** The first host: lock and history. */
  readonly primary: Runner;
  /** Where pg_dump and pg_restore run. */
  readonly runner: Runner;
  readonly stateDir: string;
  /** Where the dump is uploaded for pg_restore, on the runner's machine. */
  readonly scratchDir: string;
  readonly liveTag: string | null;
  /** Row counts just before the confirmation (shown in the plan). */
  readonly countsBefore: Readonly<Record<string, number>>;
  readonly forceUnlock?: string;
  readonly signal: AbortSignal;
  readonly say: (text: string) => void;

  outcome: RestoreOutcome;
  dataState: DataState;
  safety: Backup | null;
  /** pg_restore was started: from here on, the database may have changed. */
  restoreStarted: boolean;
  /** Row counts after the restore (or after a failure), null when they could not be counted. */
  countsAfter: Readonly<Record<string, number>> | null;
  mismatches: string[];
  error?: string;
  steps: StepRecord[];
  notes: string[];
  /** Notifications in flight (never rejected); their warnings are said at the end. */
  notifications: Promise<NotifyResult>[];
  /** Things that went wrong in cleanup (history, lock): said, never hidden. */
  cleanup: string[];
}
