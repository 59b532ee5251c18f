/**
 * nginx weights for a traffic split (pure). Every canary server gets the same weight, every stable
 * server the same weight, so each host of a cohort carries the same load. The canary cohort's
 * share is c·nc / (c·nc + s·ns): exact when small integers allow it (the smallest such pair),
 * otherwise the closest within `maxTotal` (ties: the smaller total).
 *
 * nginx's smooth weighted round robin is exact over each cycle of `total` requests per worker, so a
 * small total means the split holds over a short stretch of traffic; that is why the total is bounded.
 */

export interface Weights {
  /** The percentage asked for the canary cohort. */
  readonly asked: number;
  /** The percentage the canary cohort really gets with these weights. */
  readonly real: number;
  readonly exact: boolean;
  /** Each canary server's weight; 0: the canary servers are not listed (0%). */
  readonly canary: number;
  /** Each stable server's weight; 0: the stable servers are not listed (100%). */
  readonly stable: number;
  readonly canaryServers: number;
  readonly stableServers: number;
  /** The sum of the weights: one round-robin cycle, in requests. */
  readonly total: number;
}

/** The largest sum of weights by default: the split is exact over every 1,000 requests or fewer. */
export const MAX_TOTAL = 1000;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** `percent` as num/den with den = 100·10^k (at most 3 decimals). */
function fraction(percent: number): { num: number; den: number } {
  for (let k = 0, den = 100; k <= 3; k++, den *= 10) {
    const num = Math.round(percent * 10 ** k);
    if (Math.abs(num - percent * 10 ** k) < 1e-9) return { num, den };
  }
  throw new RangeError(`traffic percentage ${percent}: at most 3 decimals`);
}

function result(asked: number, c: number, s: number, nc: number, ns: number, exact: boolean): Weights {
  const total = c * nc + s * ns;
  return { asked, real: (100 * c * nc) / total, exact, canary: c, stable: s, canaryServers: nc, stableServers: ns, total };
}

/** Weights giving the canary cohort `percent` of the requests (0..100). */
export function weightsFor(percent: number, canaryServers: number, stableServers: number, maxTotal = MAX_TOTAL): Weights {
  if (!Number.isFinite(percent) || percent < 0 || percent > 100) throw new RangeError(`traffic percentage ${percent}: must be between 0 and 100`);
  for (const [n, what] of [[canaryServers, 'canary'], [stableServers, 'stable']] as const)
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} server count ${n}: must be a whole number`);
  const nc = canaryServers;
  const ns = stableServers;
  if (percent === 0) {
    if (ns < 1) throw new RangeError('0% to the canary needs at least one stable server');
    return result(0, 0, 1, nc, ns, true);
  }
  if (percent === 100) {
    if (nc < 1) throw new RangeError('100% to the canary needs at least one canary server');
    return result(100, 1, 0, nc, ns, true);
  }
  if (nc < 1 || ns < 1) throw new RangeError(`${percent}% needs at least one canary and one stable server (${nc} canary, ${ns} stable)`);
  if (!Number.isInteger(maxTotal) || maxTotal < nc + ns) throw new RangeError(`maximum total weight ${maxTotal}: must be at least ${nc + ns} (one per server)`);
  const { num, den } = fraction(percent);
  // exact: c·nc·(den - num) = s·ns·num; the smallest pair is (B/g, A/g)
  const A = nc * (den - num);
  const B = ns * num;
  const g = gcd(A, B);
  const [c0, s0] = [B / g, A / g];
  if (c0 * nc + s0 * ns <= maxTotal) return result(percent, c0, s0, nc, ns, true);
  // closest within the bound: error |c·nc·den - num·T| / (den·T), compared as integers (no float ties)
  let best = { c: 1, s: 1, err: Infinity, total: Infinity };
  const better = (err: number, total: number) => (best.err === Infinity ? true : err * best.total < best.err * total || (err * best.total === best.err * total && total < best.total));
  for (let c = 1; c * nc + ns <= maxTotal; c++) {
    // for a given c the error falls then rises with s: the best s is next to the ideal one, within [1, sMax]
    const ideal = (c * nc * (den - num)) / (ns * num);
    const sMax = Math.floor((maxTotal - c * nc) / ns);
    for (const s of new Set([Math.floor(ideal), Math.ceil(ideal)].map((x) => Math.min(sMax, Math.max(1, x))))) {
      const total = c * nc + s * ns;
      const err = Math.abs(c * nc * den - num * total);
      if (better(err, total)) best = { c, s, err, total };
    }
  }
  return result(percent, best.c, best.s, nc, ns, best.err === 0);
}

/**
 * A percentage as people read it: one decimal, or more when one decimal would show the asked value
 * for a split that is not exactly it (9.98% is not printed as 10.0%).
 */
export function percentText(real: number, asked?: number): string {
  for (let d = 1; d < 3; d++) {
    const t = real.toFixed(d);
    if (Number(t) === real || asked === undefined || Number(t) !== asked) return `${t}%`;
  }
  return `${real.toFixed(3)}%`;
}

/** "10% asked, 10.0% real" (what the controller prints for a step). */
export function splitText(w: Weights): string {
  return `${w.asked}% asked, ${percentText(w.real, w.asked)} real`;
}

/** "canary 1 server x weight 1, stable 3 servers x weight 3" */
export function weightsText(w: Weights): string {
  const part = (name: string, n: number, weight: number) =>
    n === 0 ? null : weight === 0 ? `${name} ${n} server${n === 1 ? '' : 's'} not listed` : `${name} ${n} server${n === 1 ? '' : 's'} x weight ${weight}`;
  return [part('canary', w.canaryServers, w.canary), part('stable', w.stableServers, w.stable)].filter(Boolean).join(', ');
}
