/** The one context of a canary run: a deploy's context (the hosts, the tag, the backup) and where the rollout is. */
import type { CanaryConfig } from '../config/canary.ts';
import type { Signals } from '../config/signals.ts';
import type { RunCtx } from '../deploy/context.ts';
import type { Monitor } from '../signals/monitor.ts';
import type { EventLog } from './events.ts';
import type { TrafficShifter } from './shifter.ts';
import type { CanaryState } from './state.ts';
import type { Synthetic } from './synthetic.ts';

export interface CanaryFlags {
  /** --steps: instead of canary.steps. */
  readonly steps?: readonly number[];
  /** resume: continue the canary recorded on the state host (a controller that stopped). */
  readonly resume: boolean;
  /** abort: roll the recorded canary back, without its controller. */
  readonly abort: boolean;
  /** --traffic: the environment's synthetic traffic while the canary runs. */
  readonly traffic?: boolean;
}

export interface CanaryCtx extends RunCtx {
  readonly canary: CanaryConfig;
  readonly signals: Signals;
  readonly cflags: CanaryFlags;
  /** The traffic percentages, in order (canary.steps or --steps). */
  readonly percents: readonly number[];
  /** Where the rollout is, as kept on the state host (set in preflight, kept up to date by the run). */
  rollout: CanaryState;
  /** nginx and flags modes; null for subset. */
  shifter: TrafficShifter | null;
  monitor: Monitor | null;
  /** Every decision, smoke check and traffic change, in order (backups/<env>/canary/<run>.jsonl). */
  events: EventLog;
  /** resume, abort: the run that drove the canary before (its lock, once stale, is taken over). */
  previousController: string | null;
  /** The load balancer's upstream file as it was before the canary (nginx mode): put back after a rollback. */
  originalSplit: string | null;
  /** --traffic: the generator, stopped when the run settles. */
  synthetic: Synthetic | null;
}
