/**
 * Rolling deploys over a fleet: which hosts go in which batch, and when to stop. Pure functions.
 *
 * The failure rule, exactly: with `maxFailures: N` (or `'P%'`, which is floor(P% of all hosts)),
 * the deploy goes on while the number of failed hosts is at most N, and stops as soon as it
 * EXCEEDS N (N + 1 failures). `maxFailures: 0` (the default) stops at the first failure. With
 * `firstBatchGates`, any failure in the first batch stops the deploy, whatever N is.
 */
export interface Rollout {
  /** Hosts per batch: a count, or a percentage of the fleet (rounded up, at least 1). */
  readonly batchSize: number | `${number}%`;
  readonly maxFailures: number | `${number}%`;
  readonly firstBatchGates: boolean;
  /** Wait between batches (ms). */
  readonly pause: number;
}

export const SINGLE_BATCH: Rollout = { batchSize: '100%', maxFailures: 0, firstBatchGates: true, pause: 0 };

const percent = (v: string) => Number(v.slice(0, -1));

export function batchCount(total: number, size: Rollout['batchSize']): number {
  const n = typeof size === 'number' ? size : Math.ceil((percent(size) / 100) * total);
  return Math.max(1, Math.min(total, n));
}

export function planBatches<T>(hosts: readonly T[], rollout: Rollout): T[][] {
  const size = batchCount(hosts.length, rollout.batchSize);
  const out: T[][] = [];
  for (let i = 0; i < hosts.length; i += size) out.push(hosts.slice(i, i + size));
  return out;
}

export function allowedFailures(total: number, max: Rollout['maxFailures']): number {
  return typeof max === 'number' ? max : Math.floor((percent(max) / 100) * total);
}

export type GateDecision = { readonly go: true } | { readonly go: false; readonly why: string };

/** After a batch: go on, or stop (and roll back every host moved so far). */
export function gate(o: { rollout: Rollout; total: number; batchIndex: number; failedInBatch: number; failedSoFar: number }): GateDecision {
  if (o.batchIndex === 0 && o.rollout.firstBatchGates && o.failedInBatch > 0)
    return { go: false, why: `${o.failedInBatch} host(s) failed in the first batch, which gates the rest (rollout.firstBatchGates)` };
  const allowed = allowedFailures(o.total, o.rollout.maxFailures);
  if (o.failedSoFar > allowed)
    return { go: false, why: `${o.failedSoFar} host(s) failed, more than rollout.maxFailures allows (${allowed} of ${o.total})` };
  return { go: true };
}
