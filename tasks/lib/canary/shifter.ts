/**
 * How traffic moves to the canary, whatever the mode: the interface the controller drives. The
 * implementations are in ./shift/ (nginx weights on a load balancer; feature flags on the hosts);
 * `subset` mode needs none (the hosts running the release are the canary).
 */

import type { ShiftHost } from './shift/types.ts';

/** A host (or, in instances mode, one instance) as the shift library names it: name, address, port. */
export type HostRef = ShiftHost;

export interface ShiftStep {
  /** The share of traffic the canary hosts get: 0 (all stable) to 100. */
  readonly percent: number;
  readonly canary: readonly HostRef[];
  readonly stable: readonly HostRef[];
  readonly runId: string;
  /** The step's index (for the file header); -1 for a reset. */
  readonly step: number;
}

export interface ShiftPlan {
  /** The share the canary really gets with integer weights (10 asked may give 10.0 or 9.1). */
  readonly realPercent: number;
  /** What changes, per file: the path, its text before and after, and a unified diff. */
  readonly files: readonly { readonly where: string; readonly path: string; readonly before: string | null; readonly after: string; readonly diff: string }[];
  /** One line: `canary weight 1 (host1), stable weight 3 each (host2, host3)`. */
  readonly detail: string;
  /** What applying it runs, in words: `write FILE on host1 (temporary file, then rename), then restart api`. */
  readonly actions?: readonly string[];
}

export interface ShiftResult {
  readonly realPercent: number;
  readonly detail: string;
  readonly durationMs: number;
}

export interface TrafficShifter {
  readonly mode: 'nginx' | 'flags';
  /** Read-only: what would stop the shifting from working; nothing changes. */
  preflight(signal?: AbortSignal): Promise<string[]>;
  /** What is in place now (the text to put back after a rollback), or null. */
  current(signal?: AbortSignal): Promise<string | null>;
  /** Pure: what apply(step) would write, given what is in place. */
  plan(step: ShiftStep, current: string | null): ShiftPlan;
  /** Moves the traffic; on any failure what was in place stays (or is put back) and it throws. */
  apply(step: ShiftStep, signal?: AbortSignal): Promise<ShiftResult>;
  /** Puts back what was in place before the canary (`current()` then). */
  restore(previous: string | null, signal?: AbortSignal): Promise<ShiftResult>;
  /** Closes what it opened (the load balancer's connection). */
  close(): Promise<void>;
}
