/**
 * Traffic shifting: the one interface the canary controller drives, whatever moves the traffic
 * (nginx weights on a load balancer, feature flags in a JSON file on the hosts).
 */
import { CutoverError, ExitCode } from '../../base/errors.ts';
import type { Weights } from './weights.ts';

/** A host taking part in a canary, as the traffic shifter names it. */
export interface ShiftHost {
  readonly name: string;
  /** Its address as the load balancer reaches it (nginx), or as cutover names it (flags). */
  readonly address: string;
  /** The app's port on this host (nginx); default the load balancer's `appPort`. */
  readonly port?: number;
}

/** One step of a canary: how much traffic goes to which hosts. */
export interface ShiftStep {
  /** Percentage of the traffic for the canary cohort, 0..100. */
  readonly percent: number;
  readonly canary: readonly ShiftHost[];
  readonly stable: readonly ShiftHost[];
  readonly runId: string;
  /** 0-based index of this step, and how many steps the run has (for the file's header). */
  readonly index: number;
  readonly steps: number;
}

/** A file a step writes, on one host. */
export interface FileChange {
  readonly host: string;
  readonly path: string;
  /** null: the file does not exist. */
  readonly before: string | null;
  readonly after: string;
  /** Unified diff before -> after ('' when equal). */
  readonly diff: string;
  readonly changed: boolean;
}

/** What apply(step) would do (pure). */
export interface ShiftPlan {
  readonly mode: 'nginx' | 'flags';
  readonly percent: number;
  /** The percentage the canary cohort really gets. */
  readonly real: number;
  readonly exact: boolean;
  /** "10% asked, 10.0% real: canary 1 server x weight 1, stable 3 servers x weight 3" */
  readonly summary: string;
  readonly weights?: Weights;
  readonly files: readonly FileChange[];
  /** What runs besides writing the files, in order ("nginx -t", "restart api on web-4"...). */
  readonly actions: readonly string[];
}

/** What apply(step) / reset() did. */
export interface ShiftResult extends ShiftPlan {
  readonly durationMs: number;
  /** nginx: the write, test and reload, as the load balancer timed them (ms). */
  readonly phases?: { readonly writeMs: number; readonly testMs: number; readonly reloadMs: number };
  /** flags: per host, whether its file changed and how long it took. */
  readonly hosts?: readonly { readonly host: string; readonly changed: boolean; readonly durationMs: number }[];
}

export interface TrafficShifter {
  readonly mode: 'nginx' | 'flags';
  /** What is wrong before anything changes (read-only); [] when ready. Reads the current files for plan(). */
  preflight(signal?: AbortSignal): Promise<string[]>;
  /** What apply(step) would write (pure). `from`: the previous step's plan (a dry-run chains them); default: the files as last read. */
  plan(step: ShiftStep, from?: ShiftPlan): ShiftPlan;
  apply(step: ShiftStep, signal?: AbortSignal): Promise<ShiftResult>;
  /** Everything back to stable: all traffic to the stable hosts, every flag off. */
  reset(signal?: AbortSignal): Promise<ShiftResult>;
}

/**
 * A shift that did not happen or went wrong. `changed`: whether live traffic may now differ from
 * before the call (the controller then rolls back); `attention`: cutover cannot tell or could not
 * put it back (a person must look). Uncaught, it exits 2 only when nothing changed, else 3.
 */
export class ShiftError extends CutoverError {
  constructor(
    message: string,
    readonly changed: boolean,
    readonly attention = false,
  ) {
    super(message, changed || attention ? ExitCode.needsHuman : ExitCode.refused);
  }
}

/** A flag would be turned on while the sign-off file is missing on a host: a refusal (exit 2), nothing changed. */
export class SignoffMissingError extends ShiftError {
  constructor(
    readonly file: string,
    readonly hosts: readonly string[],
  ) {
    super(`sign-off missing: ${file} does not exist on ${hosts.join(', ')}; nothing was changed. Create it once the release is signed off (e.g. after the shadow run), then run again.`, false);
  }
}

/** A host named twice in a step (in one cohort, or in both) cannot be given one weight or one flag value. */
export function duplicateHosts(step: Pick<ShiftStep, 'canary' | 'stable'>): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const h of [...step.canary, ...step.stable]) (seen.has(h.name) ? twice : seen).add(h.name);
  return [...twice];
}

/** "step 2 of 5" */
export function stepLabel(step: Pick<ShiftStep, 'index' | 'steps'>): string {
  return `step ${step.index + 1} of ${step.steps}`;
}
