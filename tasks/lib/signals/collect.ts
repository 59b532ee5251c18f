/**
 * Sources -> metric values per cohort over a window. `collectOnce` streams every record source
 * through the reducers (flat memory: nothing is kept but what the reducers hold) and asks
 * Prometheus for its metrics at the window's end.
 */
import type { MetricConfig, Signals } from '../config/signals.ts';
import { ALL, RecordAggregator, type AggregatorOptions, type CohortSpec } from './aggregate.ts';
import { canReadInParallel, partsFor, readInParallel } from './parallel.ts';
import { LineSplitter } from './sources/lines.ts';
import { LocalLogPlace, type LogReader, type ReadReport } from './sources/log-reader.ts';
import type { OpenPromSource, OpenRecordSource, OpenSource } from './sources/open.ts';
import { promRange, withCohort } from './sources/prometheus.ts';
import type { MetricValue, SourceStats, TimeWindow, WindowValues } from './types.ts';

export interface CollectOptions {
  readonly window: TimeWindow;
  readonly cohorts: CohortSpec;
  /** Also values per bucket of this many ms (charts). */
  readonly bucketMs?: number;
  readonly signal?: AbortSignal;
  /**
   * true: large stretches of logs on this machine are read by several worker threads (a gain only
   * when cores are idle: on a busy machine it measured slower). Default: one thread.
   */
  readonly parallel?: boolean;
}

export interface Bucket {
  readonly at: number;
  readonly cohorts: Record<string, Record<string, MetricValue>>;
}

export interface Collected {
  readonly values: WindowValues;
  /** Record metrics per bucket, oldest first (with bucketMs). */
  readonly buckets: readonly Bucket[];
}

/** Metrics of one source. */
export function metricsOf(signals: Pick<Signals, 'metrics'>, source: string): Record<string, MetricConfig> {
  return Object.fromEntries(Object.entries(signals.metrics).filter(([, m]) => m.source === source));
}

/** Metrics a Mann-Whitney gate compares value by value: their values are kept. */
export function valuesKeptFor(signals: Pick<Signals, 'gates'>): Set<string> {
  return new Set(signals.gates.filter((g) => g.test?.kind === 'mann-whitney').map((g) => g.metric));
}

export function aggregatorOptions(signals: Pick<Signals, 'metrics' | 'gates'>, s: OpenRecordSource, opts: CollectOptions): AggregatorOptions {
  return {
    source: s.name,
    config: s.config,
    metrics: metricsOf(signals, s.name),
    window: opts.window,
    cohorts: opts.cohorts,
    keepValues: valuesKeptFor(signals),
    ...(opts.bucketMs ? { bucketMs: opts.bucketMs } : {}),
  };
}

export function newAggregator(signals: Pick<Signals, 'metrics' | 'gates'>, s: OpenRecordSource, opts: CollectOptions): RecordAggregator {
  return new RecordAggregator(aggregatorOptions(signals, s, opts));
}

/** Reads what is new from one reader into `agg`: large stretches of files on this machine by several threads. */
async function readInto(reader: LogReader, agg: RecordAggregator, options: AggregatorOptions, opts: CollectOptions): Promise<ReadReport> {
  const local = reader.place instanceof LocalLogPlace ? reader.place : null;
  const read = { since: opts.window.from, ...(opts.signal ? { signal: opts.signal } : {}) };
  if (!local || opts.parallel !== true || !canReadInParallel()) return reader.read((buf, a, b, file, at) => agg.line(buf, a, b, reader.host, file, at), read);
  return reader.readRanges(async (range) => {
    const parts = partsFor(range.length);
    if (parts > 1) return readInParallel(local.pathOf(range.name), reader.host, range, agg, options, parts);
    const splitter = new LineSplitter((buf, a, b, at) => agg.line(buf, a, b, reader.host, range.name, range.offset + at));
    await local.read(range.name, range.offset, range.length, splitter, opts.signal);
    if (!range.newest) splitter.flushPartial();
    return splitter.consumed;
  }, read);
}

/** The cohorts a Prometheus metric is asked for, with their keys. */
function promCohorts(cohorts: CohortSpec): [string, readonly string[] | 'all'][] {
  if (typeof cohorts === 'object') return Object.entries(cohorts);
  return [[ALL, 'all']]; // `keys`: Prometheus cannot list them; one value over everything
}

/** The PromQL a metric runs for one cohort. */
export function promExpr(m: MetricConfig, keys: readonly string[] | 'all', windowMs: number): { expr: string; samples?: string } {
  const fill = (q: string) => withCohort(q, keys).replaceAll('{window}', promRange(windowMs));
  if (m.kind === 'increase') return { expr: `sum(increase(${fill(m.series!)}[${promRange(windowMs)}]))` };
  if (m.kind === 'query') return { expr: fill(m.query), ...(m.samplesQuery ? { samples: fill(m.samplesQuery) } : {}) };
  throw new Error(`metric kind ${m.kind} reads records, not Prometheus`);
}

export async function promValues(signals: Pick<Signals, 'metrics' | 'window'>, s: OpenPromSource, opts: CollectOptions): Promise<{ cohorts: Record<string, Record<string, MetricValue>>; stats: SourceStats }> {
  const cohorts: Record<string, Record<string, MetricValue>> = {};
  let unavailable: string | undefined;
  const metrics = Object.entries(metricsOf(signals, s.name));
  for (const [cohort, keys] of promCohorts(opts.cohorts)) {
    cohorts[cohort] = {};
    await Promise.all(
      metrics.map(async ([name, m]) => {
        const q = promExpr(m, keys, m.window ?? opts.window.to - opts.window.from);
        const [a, n] = await Promise.all([s.client.query(q.expr, opts.window.to), q.samples ? s.client.query(q.samples, opts.window.to) : null]);
        let v: MetricValue;
        if (a.kind === 'unavailable') {
          unavailable ??= a.why;
          v = { value: null, samples: 0, unavailable: a.why };
        } else if (a.kind === 'nodata') v = { value: null, samples: 0 };
        else v = { value: a.value, samples: n?.kind === 'value' ? Math.round(n.value) : a.series };
        cohorts[cohort]![name] = v;
      }),
    );
  }
  const stats: SourceStats = { lines: 0, malformed: 0, records: 0, untimed: 0, bytes: 0, files: [], malformedAt: [], ...(unavailable ? { unavailable } : {}) };
  return { cohorts, stats };
}

/** Marks every metric of a source unavailable (a host could not be read: the data is incomplete). */
export function unavailableValues(signals: Pick<Signals, 'metrics'>, source: string, cohorts: readonly string[], why: string): Record<string, Record<string, MetricValue>> {
  const names = Object.keys(metricsOf(signals, source));
  return Object.fromEntries(cohorts.map((c) => [c, Object.fromEntries(names.map((n) => [n, { value: null, samples: 0, unavailable: why }]))]));
}

export function cohortNames(cohorts: CohortSpec, seen: readonly string[] = []): string[] {
  return cohorts === 'all' ? [ALL] : cohorts === 'keys' ? [...seen] : Object.keys(cohorts);
}

/** Merges per-source cohort maps into one. */
export function mergeCohorts(parts: readonly Record<string, Record<string, MetricValue>>[]): Record<string, Record<string, MetricValue>> {
  const out: Record<string, Record<string, MetricValue>> = {};
  for (const p of parts) for (const [c, ms] of Object.entries(p)) out[c] = { ...(out[c] ?? {}), ...ms };
  return out;
}

/** Reads every source over the window once (from where each reader is: a fresh reader starts a day before the window). */
export async function collectOnce(signals: Pick<Signals, 'metrics' | 'gates' | 'window'>, sources: ReadonlyMap<string, OpenSource>, opts: CollectOptions): Promise<Collected> {
  const parts: Record<string, Record<string, MetricValue>>[] = [];
  const stats: Record<string, SourceStats> = {};
  const buckets = new Map<number, Record<string, Record<string, MetricValue>>[]>();
  await Promise.all(
    [...sources.values()].map(async (s) => {
      if (s.kind === 'prometheus') {
        const r = await promValues(signals, s, opts);
        parts.push(r.cohorts);
        stats[s.name] = r.stats;
        return;
      }
      const options = aggregatorOptions(signals, s, opts);
      const agg = new RecordAggregator(options);
      let failed: string | undefined;
      for (const reader of s.readers) {
        try {
          const r = await readInto(reader, agg, options, opts);
          r.files.forEach((f) => agg.noteFile(`${reader.host}:${f}`));
        } catch (err) {
          if (opts.signal?.aborted) throw err;
          failed ??= `${reader.host}: ${(err as Error).message}`;
        }
      }
      const values = agg.values();
      parts.push(failed ? unavailableValues(signals, s.name, Object.keys(values).length ? Object.keys(values) : cohortNames(opts.cohorts), failed) : values);
      stats[s.name] = { ...agg.sourceStats(), ...(failed ? { unavailable: failed } : {}) };
      for (const b of agg.bucketValues()) buckets.set(b.at, [...(buckets.get(b.at) ?? []), b.cohorts]);
    }),
  );
  return {
    values: { window: opts.window, cohorts: mergeCohorts(parts), sources: stats },
    buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([at, p]) => ({ at, cohorts: mergeCohorts(p) })),
  };
}
