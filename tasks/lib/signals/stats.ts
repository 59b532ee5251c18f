/**
 * One-sided tests "is the canary worse than the baseline?": Mann-Whitney U (values, such as
 * latencies), the two-proportion z-test and Fisher's exact test (counts, such as errors). Pure.
 * Each returns a p-value: small means the difference is unlikely to be chance.
 */

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf: absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * P(the canary's values are not larger than the baseline's): Mann-Whitney U with mid-ranks for
 * ties, the normal approximation with tie and continuity corrections. Both arrays ascending.
 */
export function mannWhitneyGreater(canary: ArrayLike<number>, baseline: ArrayLike<number>): { u: number; z: number; p: number } {
  const n1 = canary.length;
  const n2 = baseline.length;
  let i = 0;
  let j = 0;
  let rank = 0;
  let r1 = 0;
  let ties = 0;
  while (i < n1 || j < n2) {
    const v = i < n1 && (j >= n2 || canary[i]! <= baseline[j]!) ? canary[i]! : baseline[j]!;
    let a = 0;
    let b = 0;
    for (; i < n1 && canary[i] === v; i++) a++;
    for (; j < n2 && baseline[j] === v; j++) b++;
    const t = a + b;
    const mid = rank + (t + 1) / 2;
    r1 += a * mid;
    rank += t;
    if (t > 1) ties += t * t * t - t;
  }
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, p: 1 };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, p: 1 - normalCdf(z) };
}

/** P(the canary's proportion x1/n1 is not larger than the baseline's x2/n2): pooled z-test. */
export function twoProportionGreater(x1: number, n1: number, x2: number, n2: number): { z: number; p: number } {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { z: 0, p: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { z, p: 1 - normalCdf(z) };
}

/** ln(n!) by Stirling's series for large n, exact sums below 256. */
const LOG_FACT = (() => {
  const t = new Float64Array(256);
  for (let i = 2; i < 256; i++) t[i] = t[i - 1]! + Math.log(i);
  return t;
})();
function logFactorial(n: number): number {
  if (n < 256) return LOG_FACT[n]!;
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3);
}
const logChoose = (n: number, k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);

/** Fisher's exact test, one-sided: P(X >= x1) for X hypergeometric (the canary's share of the hits). */
export function fisherGreater(x1: number, n1: number, x2: number, n2: number): { p: number } {
  const n = n1 + n2;
  const k = x1 + x2;
  const denom = logChoose(n, n1);
  let p = 0;
  for (let x = x1; x <= Math.min(n1, k); x++) p += Math.exp(logChoose(k, x) + logChoose(n - k, n1 - x) - denom);
  return { p: Math.min(1, p) };
}
