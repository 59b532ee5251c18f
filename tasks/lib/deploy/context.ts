/** The one typed context of a deploy or rollback run, filled step by step. */
import type { Backup } from '../backup/dump.ts';
import type { PendingSnapshotSession } from '../backup/snapshot.ts';
import type { PendingDump } from '../backup/pending-dump.ts';
import type { Deployed } from '../base/run.ts';
import type { Host } from '../config/schema.ts';
import type { KernelCtx } from '../kernel/procedure.ts';
import type { PreflightFacts } from '../probes/host-facts.ts';
import type { StagedRun } from './staged.ts';
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
  /** The tags were fetched already in this run (by the preflight), no second fetch. */
  fetched?: boolean;
  /** What the preflight read on this host, in its one round trip. */
  facts?: PreflightFacts;
  /** in-place: check out, install (and migrate) in one command, started by the check-out step (of the deploy, then of a rollback). */
  code?: StagedRun;
  /** The host's clock (epoch seconds, as it printed them) just before the restart: the journal scan starts there. */
  restartedAt?: string;
  /** The services' main processes just before that restart: the journal scan leaves their entries out. */
  pidsBefore?: string[];
  /** The services were restarted on this host in this run (a restart that never ran leaves the old code running). */
  restarted?: boolean;
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
  readonly yes: boolean;
  readonly noRollback: boolean;
  readonly skipBackup?: string;
}

export interface RunCtx extends KernelCtx {
  readonly task: 'deploy' | 'rollback';
  /** The tag this run moves the hosts to (a rollback learns it in preflight, from the history). */
  tag: string;
  readonly flags: RunFlags;
  /** The hosts this run works on (all of the environment's, or the ones --hosts/--tag chose). */
  hosts: HostRun[];
  /** true when --hosts/--tag left some of the environment's hosts out. */
  readonly filtered: boolean;
  backup?: BackupRef;
  /** The dump this run took, whole (rollback --restore-db restores after it, as its safety backup). */
  backupTaken?: Backup;
  backupSkipped?: string;
  /** The backup's snapshot session, connected beside the lock command; the backup step begins it. */
  snapshotSession?: PendingSnapshotSession;
  /** pg_dump's command, started with it and waiting for the snapshot's id (connectBackupSession). */
  pendingDump?: PendingDump;
  /** Every SSM command this run sent, per host: for on-call to find it in the AWS console. */
  ssmCommands: SsmCommandRecord[];
}
