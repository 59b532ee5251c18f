/** The one typed context of a deploy or rollback run, filled step by step. */
import type { Deployed, StepRecord } from '../base/run.ts';
import type { Host } from '../config/schema.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import type { ProbeResult } from '../probes/types.ts';
import type { Runner } from '../runners/types.ts';

/** Where a host is, as far as this run knows: what the final report says per host. */
export type HostStage =
  | 'untouched' // nothing live changed
  | 'code-changed' // the new code is checked out / `current` switched, services not restarted yet
  | 'restarted' // services restarted on the new code, not verified
  | 'verified' // on the new tag and verified
  | 'rolled-back' // back on the previous tag and verified
  | 'rollback-failed'; // a human must look


export interface HostRun {
  readonly host: Host;
  readonly runner: Runner;
  from: Deployed;
  stage: HostStage;
  /** releases strategy: the new release folder. */
  newRelease?: string;
  /** in-place: the tags were fetched already in this run (by the plan), no second fetch. */
  fetched?: boolean;
  /** The host's clock (epoch seconds, as it printed them) just before the restart: the journal scan starts there. */
  restartedAt?: string;
  /** The verification of this host after the deploy, and after the rollback if there was one. */
  checks: ProbeResult[];
  rollbackChecks?: ProbeResult[];
  /** Last thing that went wrong on this host. */
  problem?: string;
  /** Set aside in this run's rollout: the step that failed on it (the batch gate counts these). */
  failed?: string;
}

export interface SsmCommandRecord {
  readonly host: string;
  readonly instanceId: string;
  readonly commandId: string;
  readonly status: string;
  readonly durationMs: number;
}


export interface BackupRef {
  readonly file: string;
  readonly sha256: string;
  readonly size: number;
}

export interface RunFlags {
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly noRollback: boolean;
  readonly skipBackup?: string;
  readonly forceUnlock?: string;
}

export interface RunCtx {
  readonly env: LoadedEnvironment;
  readonly runId: string;
  readonly task: 'deploy' | 'rollback';
  /** The tag this run moves the hosts to. */
  readonly tag: string;
  /** user@machine */
  readonly who: string;
  readonly flags: RunFlags;
  readonly signal: AbortSignal;
  hosts: HostRun[];
  backup?: BackupRef;
  backupSkipped?: string;
  steps: StepRecord[];
  /** Lines for the plan and the final report (never printed while a task list runs). */
  notes: string[];
  /** Every SSM command this run sent, per host: for on-call to find it in the AWS console. */
  ssmCommands: SsmCommandRecord[];
}

export { label, newRunId, type Deployed, type StepRecord } from '../base/run.ts';
