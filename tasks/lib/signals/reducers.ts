/**
 * Metrics as reducers over records: each is fed the fields it needs, one record at a time, and
 * gives a MetricValue at the end. Pure and incremental; no record is kept (quantiles keep the
 * one number they rank, up to the exact limit).
 */
import type { MetricConfig, Predicate } from '../config/signals.ts';
import { QuantileAccumulator, type QuantilePartial } from './quantile.ts';
import type { FieldValue } from './scan.ts';
import type { MetricValue } from './types.ts';

export type Row = readonly FieldValue[];
export type Test = (row: Row) => boolean;

export interface Reducer {
  add(row: Row): void;
  /** The value over a window of `windowMs` (rates are per minute of the window). */
  result(windowMs: number): MetricValue;
  /** What it holds, to merge into another reducer of the same metric (records read in parallel). */
  partial(): ReducerPartial;
  /** Adds a partial of records that came after the ones this reducer saw. */
  merge(p: ReducerPartial): void;
}

export type ReducerPartial =
  | { readonly k: 'count'; readonly n: number }
  | { readonly k: 'share'; readonly n: number; readonly hits: number }
  | { readonly k: 'values'; readonly n: number; readonly sum: number; readonly acc: QuantilePartial | null }
  | { readonly k: 'increase'; readonly n: number; readonly first: number | null; readonly last: number | null; readonly grown: number };

/** Numbers, and numbers written as text (nginx writes some fields quoted); NaN for anything else. */
export function toNumber(v: FieldValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && v !== '-') return Number(v);
  return Number.NaN;
}

const present = (v: FieldValue) => v !== undefined && v !== null && v !== false && v !== '';

/** One condition compiled against the row index of its field. */
export function compilePredicate(p: Omit<Predicate, 'field'>, at: number): Test {
  const tests: Test[] = [];
  if ('equals' in p && p.equals !== undefined) tests.push((r) => r[at] === p.equals);
  if ('notEquals' in p && p.notEquals !== undefined) tests.push((r) => r[at] !== p.notEquals);
  if (p.in) {
    const set = new Set<FieldValue>(p.in);
    tests.push((r) => set.has(r[at]));
  }
  if (p.matches !== undefined) {
    const re = new RegExp(p.matches);
    tests.push((r) => r[at] !== undefined && r[at] !== null && re.test(String(r[at])));
  }
  if (p.present !== undefined) tests.push(p.present ? (r) => present(r[at]) : (r) => !present(r[at]));
  if (p.gte !== undefined) tests.push((r) => toNumber(r[at]) >= p.gte!);
  if (p.gt !== undefined) tests.push((r) => toNumber(r[at]) > p.gt!);
  if (p.lte !== undefined) tests.push((r) => toNumber(r[at]) <= p.lte!);
  if (p.lt !== undefined) tests.push((r) => toNumber(r[at]) < p.lt!);
  return tests.length === 1 ? tests[0]! : (r) => tests.every((t) => t(r));
}

export function allOf(tests: readonly Test[]): Test | null {
  if (tests.length === 0) return null;
  if (tests.length === 1) return tests[0]!;
  return (r) => tests.every((t) => t(r));
}

/** Default unit shown beside a metric's value. */
export function unitOf(m: MetricConfig): string {
  if (m.unit !== undefined) return m.unit;
  switch (m.kind) {
    case 'share':
    case 'errorRate':
      return '%';
    case 'rate':
      return '/min';
    case 'quantile':
    case 'mean':
      return /_ms$|latency|duration|time/i.test(m.field) ? 'ms' : '';
    default:
      return '';
  }
}

/** A reducer factory for a record metric, given the row index of each field path it names. */
export function reducerFactory(m: MetricConfig, index: (path: string) => number, keepValues: boolean): () => Reducer {
  const where = allOf(m.where.map((p) => compilePredicate(p, index(p.field))));
  const counted = (add: (row: Row) => void) => (where ? (row: Row) => where(row) && add(row) : add);
  switch (m.kind) {
    case 'count':
    case 'rate':
      return () => {
        let n = 0;
        const add = counted(() => void n++);
        return {
          add,
          result: (windowMs) => ({ value: m.kind === 'count' ? n : windowMs > 0 ? (n * 60_000) / windowMs : null, samples: n }),
          partial: () => ({ k: 'count', n }),
          merge: (p) => void (n += (p as { n: number }).n),
        };
      };
    case 'share':
    case 'errorRate': {
      const at = index(m.field);
      const hit: Test = m.kind === 'errorRate' ? (r) => toNumber(r[at]) >= 500 : compilePredicate(m, at);
      return () => {
        let n = 0;
        let hits = 0;
        const add = counted((row) => {
          n++;
          if (hit(row)) hits++;
        });
        return {
          add,
          result: () => ({ value: n ? (hits * 100) / n : null, samples: n, hits }),
          partial: () => ({ k: 'share', n, hits }),
          merge: (p) => {
            const o = p as { n: number; hits: number };
            n += o.n;
            hits += o.hits;
          },
        };
      };
    }
    case 'quantile':
    case 'mean': {
      const at = index(m.field);
      const q = m.kind === 'quantile' ? m.q : 0;
      return () => {
        const acc = m.kind === 'quantile' || keepValues ? new QuantileAccumulator() : null;
        let n = 0;
        let sum = 0;
        const add = counted((row) => {
          const v = toNumber(row[at]);
          if (Number.isNaN(v)) return;
          n++;
          sum += v;
          acc?.add(v);
        });
        return {
          add,
          result: () => {
            const value = n === 0 ? null : m.kind === 'mean' ? sum / n : acc!.quantile(q);
            const values = keepValues && acc?.exact ? acc.sortedValues() : undefined;
            return { value, samples: n, ...(acc ? { method: acc.method } : {}), ...(values ? { values } : {}) };
          },
          partial: () => ({ k: 'values', n, sum, acc: acc ? acc.partial() : null }),
          merge: (p) => {
            const o = p as { n: number; sum: number; acc: QuantilePartial | null };
            n += o.n;
            sum += o.sum;
            if (acc && o.acc) acc.merge(o.acc);
          },
        };
      };
    }
    case 'increase': {
      const at = index(m.field!);
      return () => {
        let first: number | null = null;
        let last: number | null = null;
        let grown = 0;
        let n = 0;
        const step = (v: number) => {
          if (last !== null) grown += v >= last ? v - last : v; // a counter that went down was reset
          else first = v;
          last = v;
        };
        const add = counted((row) => {
          const v = toNumber(row[at]);
          if (Number.isNaN(v)) return;
          n++;
          step(v);
        });
        return {
          add,
          result: () => ({ value: n >= 2 ? grown : n === 1 ? 0 : null, samples: n }),
          partial: () => ({ k: 'increase', n, first, last, grown }),
          merge: (p) => {
            const o = p as { n: number; first: number | null; last: number | null; grown: number };
            if (o.first === null) return;
            step(o.first); // the step between the two stretches
            grown += o.grown;
            last = o.last;
            n += o.n;
          },
        };
      };
    }
    case 'query':
      throw new Error(`metric kind 'query' is answered by Prometheus, not by records`);
  }
}

/** Every field path a record metric reads (its field, its conditions). */
export function fieldsOf(m: MetricConfig): string[] {
  const own = 'field' in m && typeof m.field === 'string' ? [m.field] : [];
  return [...own, ...m.where.map((p) => p.field)];
}
