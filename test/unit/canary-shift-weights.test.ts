// nginx weights for a canary split: exact when integers allow, else the closest within the bound.
import { describe, expect, it } from 'vitest';
import { MAX_TOTAL, percentText, splitText, weightsFor, weightsText } from '../../tasks/lib/canary/shift/weights.ts';

const COUNTS = Array.from({ length: 20 }, (_, i) => i + 1);
const PERCENTS = Array.from({ length: 101 }, (_, i) => i);

describe('weightsFor: examples', () => {
  it('10% with 1 canary and 3 stable hosts: canary weight 1, each stable 3 (1 / (1 + 9))', () => {
    expect(weightsFor(10, 1, 3)).toEqual({ asked: 10, real: 10, exact: true, canary: 1, stable: 3, canaryServers: 1, stableServers: 3, total: 10 });
  });

  it('the default steps on 1 + 3 hosts, each the smallest exact ratio', () => {
    const w = [10, 20, 50, 75].map((p) => weightsFor(p, 1, 3));
    expect(w.map((x) => [x.canary, x.stable, x.total, x.real])).toEqual([[1, 3, 10, 10], [3, 4, 15, 20], [3, 1, 6, 50], [9, 1, 12, 75]]);
  });

  it('0%: the canary servers are not listed (weight 0); 100%: the stable servers are not listed', () => {
    expect(weightsFor(0, 1, 3)).toMatchObject({ canary: 0, stable: 1, real: 0, exact: true, total: 3 });
    expect(weightsFor(100, 2, 3)).toMatchObject({ canary: 1, stable: 0, real: 100, exact: true, total: 2 });
    expect(weightsFor(0, 0, 2)).toMatchObject({ canary: 0, stable: 1, total: 2 });
    expect(weightsFor(100, 1, 0)).toMatchObject({ canary: 1, stable: 0, total: 1 });
  });

  it('inexact within the bound: the closest split, said as such', () => {
    const w = weightsFor(10, 20, 19);
    expect(w).toMatchObject({ exact: false, canary: 2, stable: 19, total: 401 });
    expect(splitText(w)).toBe('10% asked, 9.98% real');
    // 99% on 1 + 20 needs 1980 + 20: within 1000 the closest is 980 + 20
    expect(weightsFor(99, 1, 20)).toMatchObject({ exact: false, canary: 980, stable: 1, total: 1000, real: 98 });
    // a small percentage on many servers: the largest stable weight that fits
    expect(weightsFor(1, 13, 17)).toMatchObject({ exact: false, canary: 1, stable: 58, total: 999 });
  });

  it('decimal percentages (up to 3 decimals)', () => {
    expect(weightsFor(12.5, 1, 1)).toMatchObject({ canary: 1, stable: 7, exact: true });
    expect(() => weightsFor(12.3456, 1, 1)).toThrow(/at most 3 decimals/);
  });

  it('refuses what cannot be split, naming the value', () => {
    expect(() => weightsFor(-1, 1, 1)).toThrow(/-1: must be between 0 and 100/);
    expect(() => weightsFor(101, 1, 1)).toThrow(/101/);
    expect(() => weightsFor(Number.NaN, 1, 1)).toThrow(/NaN/);
    expect(() => weightsFor(10, 0, 3)).toThrow(/at least one canary and one stable server \(0 canary, 3 stable\)/);
    expect(() => weightsFor(10, 1, 0)).toThrow(/at least one canary and one stable/);
    expect(() => weightsFor(0, 1, 0)).toThrow(/0% to the canary needs at least one stable server/);
    expect(() => weightsFor(100, 0, 1)).toThrow(/100% to the canary needs at least one canary server/);
    expect(() => weightsFor(10, 1.5, 1)).toThrow(/canary server count 1.5/);
    expect(() => weightsFor(10, 3, 3, 5)).toThrow(/maximum total weight 5: must be at least 6/);
  });
});

describe('weightsFor: properties over 1..20 canary and stable servers and every percentage 0..100', () => {
  it('integer weights >= 1 per listed server, the total bounded, the real split computed from the weights', () => {
    const wrong: string[] = [];
    for (const nc of COUNTS)
      for (const ns of COUNTS)
        for (const p of PERCENTS) {
          const w = weightsFor(p, nc, ns);
          const listed = [w.canary, w.stable].filter((x) => x > 0);
          const ok =
            listed.every((x) => Number.isInteger(x) && x >= 1) &&
            w.total === w.canary * nc + w.stable * ns &&
            w.total <= MAX_TOTAL &&
            Math.abs(w.real - (100 * w.canary * nc) / w.total) < 1e-9 &&
            w.exact === (w.canary * nc * 100 === p * w.total) &&
            (p === 0 || p === 100 || (w.canary > 0 && w.stable > 0)); // both cohorts served in between
          if (!ok) wrong.push(`${p}% ${nc}+${ns}: ${JSON.stringify(w)}`);
        }
    expect(wrong).toEqual([]);
  });

  it('exact exactly when some integer pair within the bound is exact, and then the smallest one', () => {
    const wrong: string[] = [];
    let exact = 0;
    for (const nc of COUNTS)
      for (const ns of COUNTS)
        for (const p of PERCENTS.slice(1, 100)) {
          // the first c (then the smallest total) for which s = c·nc·(100-p) / (p·ns) is a whole number
          let smallest: [number, number] | null = null;
          for (let c = 1; c * nc + ns <= MAX_TOTAL && !smallest; c++) {
            const s = (c * nc * (100 - p)) / (p * ns);
            if (Number.isInteger(s) && c * nc + s * ns <= MAX_TOTAL) smallest = [c, s];
          }
          const w = weightsFor(p, nc, ns);
          if (smallest) exact++;
          if (w.exact !== (smallest !== null) || (smallest && (w.canary !== smallest[0] || w.stable !== smallest[1])))
            wrong.push(`${p}% ${nc}+${ns}: ${JSON.stringify(w)} vs ${JSON.stringify(smallest)}`);
        }
    expect(wrong).toEqual([]);
    expect(exact).toBeGreaterThan(10_000); // the oracle found exact pairs (a loop that finds none proves nothing)
  });

  it('otherwise the closest split of all pairs within the bound, the smaller total on a tie (brute force, bound 60)', () => {
    const bound = 60;
    const wrong: string[] = [];
    for (const nc of COUNTS.slice(0, 12))
      for (const ns of COUNTS.slice(0, 12))
        for (const p of PERCENTS.slice(1, 100)) {
          if (nc + ns > bound) continue;
          let best = { err: Infinity, total: Infinity };
          for (let c = 1; c * nc + ns <= bound; c++)
            for (let s = 1; c * nc + s * ns <= bound; s++) {
              const total = c * nc + s * ns;
              const err = Math.abs((100 * c * nc) / total - p);
              if (err < best.err - 1e-12 || (Math.abs(err - best.err) <= 1e-12 && total < best.total)) best = { err, total };
            }
          const w = weightsFor(p, nc, ns, bound);
          if (Math.abs(Math.abs(w.real - p) - best.err) > 1e-9 || w.total !== best.total) wrong.push(`${p}% ${nc}+${ns}: ${JSON.stringify(w)} vs ${JSON.stringify(best)}`);
        }
    expect(wrong).toEqual([]);
  });
});

describe('texts', () => {
  it('the split as the controller prints it', () => {
    expect(splitText(weightsFor(10, 1, 3))).toBe('10% asked, 10.0% real');
    expect(splitText(weightsFor(0, 1, 3))).toBe('0% asked, 0.0% real');
    expect(weightsText(weightsFor(10, 1, 3))).toBe('canary 1 server x weight 1, stable 3 servers x weight 3');
    expect(weightsText(weightsFor(0, 2, 3))).toBe('canary 2 servers not listed, stable 3 servers x weight 1');
    expect(weightsText(weightsFor(100, 1, 1))).toBe('canary 1 server x weight 1, stable 1 server not listed');
  });

  it('percentages: one decimal, more when one decimal would read as the asked value', () => {
    expect(percentText(33.333333, 33)).toBe('33.3%');
    expect(percentText(9.976, 10)).toBe('9.98%'); // not "10.0%"
    expect(percentText(10.0004, 10)).toBe('10.000%');
    expect(percentText(12.5)).toBe('12.5%');
  });
});
