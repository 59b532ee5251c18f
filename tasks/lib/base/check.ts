/**
 * One row of a check, whoever checks: doctor (is the environment ready?), verify (is it healthy?),
 * restore (are the row counts the backup's?), the reports that keep them.
 */

export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckRow {
  /** A host name, or `(this machine)`. */
  readonly host: string;
  /** As shown: `health`, `service demo-chat`, `rows public.messages`. */
  readonly check: string;
  readonly verdict: Verdict;
  /** What was measured, short (`200, version v1.1.0`, `p95 4 ms`); '' when the check measures nothing. */
  readonly value: string;
  /** What it must be (`200`, `p95 <= 200 ms`); '' when there is no threshold. */
  readonly threshold: string;
  /** Why this verdict: what was asked, what came back (may hold several lines). */
  readonly why: string;
}

/** A row that only says what it found (doctor's readiness checks). */
export const row = (host: string, check: string, verdict: Verdict, why: string): CheckRow => ({ host, check, verdict, value: '', threshold: '', why });
