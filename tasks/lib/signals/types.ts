/** The data signals produce: metric values per cohort and window, gate evaluations, clock state. All plain JSON. */

/** pass / warn / fail, or inconclusive: not enough data to say (never a pass, never a failure). */
export type GateVerdict = 'pass' | 'warn' | 'fail' | 'inconclusive';

/** A time window [from, to) in epoch milliseconds. */
export interface TimeWindow {
  readonly from: number;
  readonly to: number;
}

/** What a metric came to for one cohort over one window. */
export interface MetricValue {
  /** null: no data (no record, an empty or NaN Prometheus answer). */
  readonly value: number | null;
  /** Records (or samples) the value stands on. */
  readonly samples: number;
  /** The source could not be read: why (Prometheus down, host unreachable). */
  readonly unavailable?: string;
  /** share / errorRate: records that matched, out of `samples` (for the proportion tests). */
  readonly hits?: number;
  /** quantile: exact, or estimated by a sketch beyond the exact limit (its error stated). */
  readonly method?: string;
  /** quantile / mean with exact samples: the values (Mann-Whitney), not serialised. */
  readonly values?: Float64Array;
}

/** Every metric of every cohort over one window. */
export interface WindowValues {
  readonly window: TimeWindow;
  /** cohort name -> metric name -> value */
  readonly cohorts: Readonly<Record<string, Readonly<Record<string, MetricValue>>>>;
  /** Per source: lines read, malformed lines, records outside the window, files read. */
  readonly sources: Readonly<Record<string, SourceStats>>;
}

export interface SourceStats {
  readonly lines: number;
  readonly malformed: number;
  readonly records: number;
  /** Records with no usable time (counted, left out). */
  readonly untimed: number;
  readonly bytes: number;
  readonly files: readonly string[];
  /** Sample of the first malformed lines' positions: `file:offset`. */
  readonly malformedAt: readonly string[];
  readonly unavailable?: string;
}

/**
 * A gate's clock: since when its condition has been breached without a pass in between. Plain
 * JSON so a controller can persist it and another machine resume from it.
 */
export interface ClockState {
  /** Epoch ms of the first breached evaluation of the current breach; null: not breached. */
  readonly breachedSince: number | null;
  /** Epoch ms of the last evaluation that saw it. */
  readonly lastAt: number | null;
  readonly lastVerdict: GateVerdict | null;
}

export const CLEAR_CLOCK: ClockState = { breachedSince: null, lastAt: null, lastVerdict: null };

/** One gate judged for one cohort: every number it stands on and a sentence saying why. */
export interface Evaluation {
  readonly gate: string;
  readonly metric: string;
  readonly cohort: string;
  readonly baselineCohort?: string;
  readonly value: number | null;
  readonly baseline?: number | null;
  readonly unit: string;
  /** `<= 250 ms for 15m`, `<= stable +50%` */
  readonly threshold: string;
  readonly verdict: GateVerdict;
  readonly severity: 'normal' | 'critical';
  /** `breached 6m12s of 15m`; '' when the gate has no clock or is not breached. */
  readonly clock: string;
  readonly samples: number;
  readonly baselineSamples?: number;
  readonly why: string;
  /** ISO time of the evaluation. */
  readonly at: string;
  readonly test?: { readonly kind: string; readonly p: number; readonly significant: boolean };
}

export interface GateSetResult {
  readonly at: string;
  readonly window: TimeWindow;
  readonly cohort: string;
  readonly baselineCohort?: string;
  readonly evaluations: readonly Evaluation[];
  /** gate name -> clock after this evaluation (store it, hand it back next time). */
  readonly clocks: Readonly<Record<string, ClockState>>;
  /** fail if any fails; else inconclusive if any is; else warn if any warns; else pass. */
  readonly verdict: GateVerdict;
}
