/** What verify produces: one row per check and host, judged ok / warn / fail. */

import type { CheckRow as Row } from '../base/check.ts';

/** verify never skips a check it runs: ok, warn or fail. */
export type Verdict = 'ok' | 'warn' | 'fail';

/** Check kinds, as `--check` names them. Hardening probes run only when configured. */
export const CHECK_KINDS = [
  'service',
  'version',
  'health',
  'readiness',
  'chat',
  'latency',
  'journal',
  'disk',
  'backup',
  'lock',
  'oversized-body',
  'rate-limit',
  'readiness-deps',
] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];

/** The shared check row (base/check.ts), with what verify adds: the kind of check, and what --watch compares. */
export interface CheckRow extends Row {
  /** `connect`: the row of a host SSH could not reach (not a check one can select). */
  readonly kind: CheckKind | 'connect';
  readonly verdict: Verdict;
  /** The category of `value` that --watch compares between rounds (numbers that wobble are left out). */
  readonly valueClass: string;
}

export interface LatencyFigures {
  readonly host: string;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly samples: number;
}

export interface HostVerdict {
  readonly name: string;
  readonly address: string;
  /** false: SSH could not connect (or the host key was refused): the host cannot be verified. */
  readonly reachable: boolean;
  readonly rows: CheckRow[];
}

export { THIS_MACHINE } from '../runners/types.ts';
