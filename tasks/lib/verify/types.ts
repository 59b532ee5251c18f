/** What verify produces: one row per check and host, judged ok / warn / fail. */

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

export interface CheckRow {
  /** Host name, or THIS_MACHINE for checks of this machine (backups). */
  readonly host: string;
  /** `connect`: the row of a host SSH could not reach (not a check one can select). */
  readonly kind: CheckKind | 'connect';
  /** As shown: `health`, `service demo-chat`. Unique per host. */
  readonly check: string;
  readonly verdict: Verdict;
  /** What was measured, short: `200, version v1.1.0`, `p95 4 ms`. */
  readonly value: string;
  /** What it must be: `200`, `p95 <= 200 ms`. */
  readonly threshold: string;
  /** Why this verdict: what was asked, what came back (may hold several lines). */
  readonly why: string;
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
