/** How a restore ended, and what that means for the exit code, the history and the report. Pure. */
import { ExitCode } from '../base/errors.ts';
import type { Result } from '../state/records.ts';

export type RestoreOutcome =
  | 'restored' // restored, row counts equal the backup's
  | 'counts-differ' // restored (committed), but the row counts differ from the backup's
  | 'failed-unchanged' // the restore failed; the database is as it was (checked against the safety backup)
  | 'uncertain' // the restore failed or was cut off, and the database is neither as it was nor as the backup
  | 'refused' // stopped before the database was touched
  | 'interrupted'; // Ctrl-C (the state is said separately)

export const EXIT: Record<RestoreOutcome, ExitCode> = {
  restored: ExitCode.ok,
  'counts-differ': ExitCode.needsHuman,
  'failed-unchanged': ExitCode.rolledBack,
  uncertain: ExitCode.needsHuman,
  refused: ExitCode.refused,
  interrupted: ExitCode.interrupted,
};

/** The history's `result` (records.ts): `deployed` = the run reached its target (the data restored and checked), `rolled-back` = back as before. */
export const RESULT: Record<RestoreOutcome, Result> = {
  restored: 'deployed',
  'counts-differ': 'needs-attention',
  'failed-unchanged': 'rolled-back',
  uncertain: 'needs-attention',
  refused: 'failed',
  interrupted: 'interrupted',
};

export const VERDICT: Record<RestoreOutcome, string> = {
  restored: 'restored',
  'counts-differ': 'needs attention',
  'failed-unchanged': 'failed, database unchanged',
  uncertain: 'needs attention',
  refused: 'refused, nothing changed',
  interrupted: 'interrupted',
};

// which data a database holds after a failed restore: decided with the rest of the restore's data part
export { dataState, type DataState } from '../backup/counts.ts';
