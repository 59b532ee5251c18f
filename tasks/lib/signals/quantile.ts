/**
 * Quantiles of a numeric field: exact (every value kept in a Float64Array, nearest rank) up to
 * EXACT_LIMIT values per cohort and window; past it the values go into an HdrHistogram
 * (hdr-histogram-js, 3 significant digits: relative error at most 0.1%) and memory stays flat.
 * The method (and so the error) travels with the value.
 */
import { createRequire } from 'node:module';

/** 2^20 = 1,048,576 values: exact for every window of up to a million samples. */
export const EXACT_LIMIT = 1 << 20;
/** The sketch records integers: values are scaled to thousandths (ms -> µs) before recording. */
const SCALE = 1000;
export const SKETCH_METHOD = 'HdrHistogram (3 significant digits, relative error <= 0.1%)';

interface Histogram {
  recordValue(v: number): void;
  getValueAtPercentile(p: number): number;
  add(other: Histogram): void;
  readonly totalCount: number;
  destroy(): void;
}

interface Hdr {
  build(o: object): Histogram;
  encodeIntoCompressedBase64(h: Histogram): string;
  decodeFromCompressedBase64(s: string, bitBucketSize?: 32): Histogram;
}
let hdrModule: Hdr | undefined;
// loaded on first use: a window under the exact limit never needs it
const hdr = () => (hdrModule ??= createRequire(import.meta.url)('hdr-histogram-js') as Hdr);
function newHistogram(): Histogram {
  return hdr().build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, lowestDiscernibleValue: 1, highestTrackableValue: 2, autoResize: true });
}

/** What an accumulator holds, to move between threads and merge: the values, or the sketch (encoded). */
export interface QuantilePartial {
  readonly values: Float64Array | null;
  readonly sketch: string | null;
  readonly negatives: number;
}

/** Nearest-rank percentile of ascending `sorted` (q in (0,1)): the value at rank ceil(q * N). */
export function nearestRank(sorted: ArrayLike<number>, n: number, q: number): number {
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1]!;
}

export class QuantileAccumulator {
  private values = new Float64Array(1024);
  private n = 0;
  private sketch: Histogram | null = null;
  private sorted = false;
  /** Values below zero cannot go into the sketch; counted, and the answer says so. */
  private negatives = 0;

  constructor(private readonly limit = EXACT_LIMIT) {}

  get count(): number {
    return this.sketch ? this.sketch.totalCount + this.negatives : this.n;
  }

  get exact(): boolean {
    return this.sketch === null;
  }

  add(v: number): void {
    if (this.sketch) return this.record(v);
    if (this.n === this.values.length) {
      if (this.n >= this.limit) return this.toSketch(v);
      const next = new Float64Array(Math.min(this.limit, this.n * 2));
      next.set(this.values);
      this.values = next;
    }
    this.values[this.n++] = v;
    this.sorted = false;
  }

  private record(v: number): void {
    if (v < 0) this.negatives++;
    else this.sketch!.recordValue(Math.max(1, Math.round(v * SCALE)));
  }

  private toSketch(v: number): void {
    this.toSketchOnly();
    this.record(v);
  }

  /** The q-quantile (0 < q < 1), nearest rank; null with no values. Selects in linear time unless already sorted. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    if (this.sketch) return this.sketch.getValueAtPercentile(q * 100) / SCALE;
    if (this.sorted) return nearestRank(this.values, this.n, q);
    const rank = Math.min(this.n, Math.max(1, Math.ceil(q * this.n)));
    return select(this.values, 0, this.n - 1, rank - 1);
  }

  /** The values, ascending (exact mode only): for rank tests. */
  sortedValues(): Float64Array {
    const view = this.values.subarray(0, this.n);
    if (!this.sorted) {
      view.sort();
      this.sorted = true;
    }
    return view;
  }

  get method(): string {
    return this.sketch ? `${SKETCH_METHOD}${this.negatives ? `; ${this.negatives} negative values left out` : ''}` : 'exact';
  }

  partial(): QuantilePartial {
    if (this.sketch) return { values: null, sketch: hdr().encodeIntoCompressedBase64(this.sketch), negatives: this.negatives };
    return { values: this.values.slice(0, this.n), sketch: null, negatives: 0 };
  }

  /** Adds another accumulator's partial (values one by one: past the limit this one turns into a sketch). */
  merge(p: QuantilePartial): void {
    if (p.values) {
      for (let i = 0; i < p.values.length; i++) this.add(p.values[i]!);
      return;
    }
    if (!this.sketch) this.toSketchOnly();
    const other = hdr().decodeFromCompressedBase64(p.sketch!, 32);
    this.sketch!.add(other);
    other.destroy();
    this.negatives += p.negatives;
  }

  private toSketchOnly(): void {
    this.sketch = newHistogram();
    for (let i = 0; i < this.n; i++) this.record(this.values[i]!);
    this.values = new Float64Array(0);
    this.n = 0;
  }

  dispose(): void {
    this.sketch?.destroy();
    this.sketch = null;
    this.values = new Float64Array(0);
    this.n = 0;
  }
}

/** The k-th smallest of a[lo..hi] (quickselect, median of three; reorders a). */
export function select(a: Float64Array, lo: number, hi: number, k: number): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as the pivot: sorted input stays linear
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
