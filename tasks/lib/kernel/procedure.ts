/**
 * The changing-task kernel's contract. A procedure (deploy, rollback, restore, backup create,
 * canary) says what to check, what to do and how to undo it; the kernel (run.ts) owns the rest:
 * the lock and its renewal, the history, Ctrl-C, dry-run, the --json/stderr split, the report,
 * the notifications and the exit code.
 */
import type { ListrTask } from 'listr2';
import type { ExitCode } from '../base/errors.ts';
import type { StepRecord } from '../base/run.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import type { Host } from '../config/schema.ts';
import type { NotifyEvent } from '../notify/payload.ts';
import type { ReportInput } from '../reports/types.ts';
import type { LockHolder } from '../state/lock.ts';
import type { Runner } from '../runners/types.ts';
import type { FinishedEvent, Result, StartedEvent, Task } from '../state/records.ts';
import type { DryLog } from './dry-run.ts';
import type { ListMaker, StepCtx } from './listr.ts';

/** How a run ended, for every changing task. */
export type Outcome =
  | 'done' // the run reached its target, verified
  | 'rolled-back' // it failed, and what it changed was put back and verified
  | 'refused' // nothing live changed
  | 'needs-attention' // a human must look
  | 'interrupted'
  | 'dry-run';

export interface StateHost {
  readonly host: Host;
  readonly runner: Runner;
  /** The state folder on that host (lock.json, history.jsonl). */
  readonly dir: string;
}

/** What every run's context holds; a procedure's context extends it. */
export interface KernelCtx extends StepCtx {
  readonly env: LoadedEnvironment;
  readonly runId: string;
  readonly task: Task;
  /** user@machine */
  readonly who: string;
  /** Aborted on Ctrl-C, and when the run lost its lock (the reason says which). */
  readonly signal: AbortSignal;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly state: StateHost;
  /** --dry-run: what would have run (commands, requests), in order; null otherwise. */
  readonly dry: DryLog | null;
  /** Lines for the summary and the report (never printed while a task list runs). */
  notes: string[];
  steps: StepRecord[];
  /** Plan and progress lines: stdout, or stderr with --json; masked. */
  print(text: string): void;
}

export interface RunResult {
  readonly outcome: Outcome;
  readonly exitCode: ExitCode;
  /** The failed step's message (masked). */
  readonly error?: string;
  readonly plan: readonly string[];
  /** Things that went wrong while cleaning up (history, lock): said, never hidden. */
  readonly cleanup: readonly string[];
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

type Fields<T> = Omit<T, 'type' | 'runId' | 'task' | 'env' | 'at'>;
export type StartedFields = Omit<Fields<StartedEvent>, 'who'>;
export type FinishedFields = Omit<Fields<FinishedEvent>, 'result' | 'steps'> & { readonly result?: Result };

export interface Procedure<C extends KernelCtx> {
  readonly task: Task;
  /** The tag the lock record names (null: none, e.g. a restore). */
  lockTag(ctx: C): string | null;
  /** Read-only checks, then the plan's lines; throws to refuse (exit 2). Runs for --dry-run too. */
  preflight(ctx: C, list: ListMaker<C>): Promise<string[]>;
  /** Asks the operator where the environment or the task says so (after the plan is printed). */
  confirm?(ctx: C): Promise<void>;
  /**
   * Just before the lock is taken (real runs): starts what only reads and would otherwise wait for
   * the lock command (deploy: the backup's snapshot session connects; it exports nothing until the
   * work, under the lock, begins it). `dispose` ends it when the work did not use it.
   */
  besideLock?(ctx: C): { dispose(): Promise<void> } | null;
  /** Under the lock, before "started": read again what another run may have changed; throw to refuse. */
  recheck?(ctx: C): Promise<void>;
  started(ctx: C): StartedFields;
  /** The work. Run against recording runners for --dry-run: every step with other effects records itself (ctx.dry). */
  work(ctx: C): ListrTask<C>[];
  /** The work failed (not interrupted, lock not lost): put back what it can; the outcome. */
  recover(ctx: C, list: ListMaker<C>, error: unknown): Promise<Outcome>;
  /**
   * The held lock's holder is stale and belongs to this procedure's own earlier run (a canary whose
   * controller died): the reason to take it over (recorded as a forced lock), or null to refuse.
   */
  takeOver?(ctx: C, holder: LockHolder): string | null;
  /** After the work (and the undo), before "finished": the procedure records its own end (a canary's state). Never throws. */
  settle?(ctx: C, outcome: Outcome): Promise<void>;
  /** Interrupted or lost the lock: did anything live change? (the outcome's wording and exit code depend on it) */
  changedAnything(ctx: C): boolean;
  /** `error`: the failed step's message (masked), if the work failed. */
  finished(ctx: C, outcome: Outcome, error: string | undefined): FinishedFields;
  /** After a successful run, lock still held (backup retention): lines to note; never fails the run. */
  afterSuccess?(ctx: C): Promise<string[]>;
  exitCode?(ctx: C, outcome: Outcome): ExitCode;
  summary(ctx: C, r: RunResult): string;
  json(ctx: C, r: RunResult): unknown;
  report(ctx: C, r: RunResult, summary: string): ReportInput;
  /** null: no start notification (a routine backup). */
  startEvent(ctx: C): NotifyEvent | null;
  /** null: nothing to say (a dry run, a refusal before anything changed). */
  endEvent(ctx: C, r: RunResult): NotifyEvent | null;
}

/** The hosts of a run: every host of the environment (the state host is chosen among them) and the ones this run works on. */
export interface RunHosts {
  readonly all: readonly { readonly host: Host; readonly runner: Runner }[];
  readonly selected: readonly { readonly host: Host; readonly runner: Runner }[];
}
