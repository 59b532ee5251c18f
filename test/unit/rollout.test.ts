import { describe, expect, it } from 'vitest';
import { allowedFailures, batchCount, gate, planBatches, SINGLE_BATCH, type Rollout } from '../../tasks/lib/deploy/rollout.ts';

const r = (o: Partial<Rollout>): Rollout => ({ ...SINGLE_BATCH, ...o });

describe('rollout', () => {
  it('cuts the fleet into batches by count or percentage (rounded up, at least 1)', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(planBatches(hosts, r({ batchSize: 3 }))).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
    expect(planBatches(hosts, r({ batchSize: '25%' }))).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f'], ['g']]);
    expect(planBatches(hosts, SINGLE_BATCH)).toEqual([hosts]);
    expect(batchCount(20, '25%')).toBe(5);
    expect(batchCount(3, '1%')).toBe(1);
    expect(batchCount(3, 10)).toBe(3);
  });

  it('maxFailures: a count, or floor(P% of all hosts)', () => {
    expect(allowedFailures(20, 2)).toBe(2);
    expect(allowedFailures(20, '10%')).toBe(2);
    expect(allowedFailures(6, '10%')).toBe(0);
    expect(allowedFailures(6, '20%')).toBe(1);
  });

  it('stops when failures EXCEED the allowance, goes on when they reach it', () => {
    const rollout = r({ batchSize: 2, maxFailures: 1, firstBatchGates: true });
    expect(gate({ rollout, total: 6, batchIndex: 1, failedInBatch: 1, failedSoFar: 1 })).toEqual({ go: true });
    expect(gate({ rollout, total: 6, batchIndex: 2, failedInBatch: 1, failedSoFar: 2 })).toEqual({
      go: false,
      why: '2 host(s) failed, more than rollout.maxFailures allows (1 of 6)',
    });
  });

  it('the first batch gates the rest: any failure there stops, whatever maxFailures says', () => {
    const rollout = r({ batchSize: 2, maxFailures: 3, firstBatchGates: true });
    expect(gate({ rollout, total: 6, batchIndex: 0, failedInBatch: 1, failedSoFar: 1 })).toEqual({
      go: false,
      why: '1 host(s) failed in the first batch, which gates the rest (rollout.firstBatchGates)',
    });
    expect(gate({ rollout: r({ ...rollout, firstBatchGates: false }), total: 6, batchIndex: 0, failedInBatch: 1, failedSoFar: 1 })).toEqual({ go: true });
  });
});
