/**
 * Records -> metric values per cohort: each line of a request log is scanned for the fields the
 * metrics need, placed in its cohort, and fed to that cohort's reducers when it falls inside the
 * metric's window. Optionally also per time bucket (the charts of a report). Pure over its input.
 */
import type { MetricConfig, RecordSourceConfig } from '../config/signals.ts';
import { fieldsOf, reducerFactory, toNumber, type Reducer, type ReducerPartial, type Row } from './reducers.ts';
import { FieldScanner, Malformed, timeOf, type FieldValue } from './scan.ts';
import type { MetricValue, SourceStats, TimeWindow } from './types.ts';

/**
 * How records are grouped: `all` (one cohort), `keys` (one cohort per key: host, upstream, version),
 * or named cohorts (name -> keys; a record whose key is in no list is left out).
 */
export type CohortSpec = 'all' | 'keys' | Readonly<Record<string, readonly string[]>>;

export const ALL = 'all';

/** An aggregator's content, structured-cloneable (worker threads). */
export interface AggregatorPartial {
  readonly cohorts: [string, ReducerPartial[]][];
  readonly buckets: [number, [string, ReducerPartial[]][]][];
  readonly stats: { lines: number; malformed: number; records: number; untimed: number; bytes: number; files: string[]; malformedAt: string[] };
}
const MAX_MALFORMED_AT = 10;

/** nginx's variables under the names metrics use: latency in ms, the upstream that answered last. */
const NGINX_DERIVED: Record<string, { from: string; map: (v: FieldValue) => FieldValue }> = {
  latency_ms: { from: 'request_time', map: (v) => seconds(v) },
  upstream: { from: 'upstream_addr', map: (v) => lastOf(v) },
  upstream_latency_ms: { from: 'upstream_response_time', map: (v) => seconds(lastOf(v)) },
  upstream_status: { from: 'upstream_status', map: (v) => lastOf(v) },
};

/** `10.0.0.1:80, 10.0.0.2:80` (nginx tried two) or `a : b` (internal redirect): the last one answered. */
function lastOf(v: FieldValue): FieldValue {
  if (typeof v !== 'string') return v;
  const parts = v.split(/\s*[,:]\s+/);
  return parts[parts.length - 1];
}

function seconds(v: FieldValue): FieldValue {
  const n = toNumber(v);
  return Number.isNaN(n) ? undefined : Math.round(n * 1e6) / 1e3;
}

export interface AggregatorOptions {
  readonly source: string;
  readonly config: RecordSourceConfig;
  /** The metrics of this source, by name. */
  readonly metrics: Readonly<Record<string, MetricConfig>>;
  /** The window of metrics without their own; each metric ends at window.to. */
  readonly window: TimeWindow;
  readonly cohorts: CohortSpec;
  /** Metrics whose values a rank test needs (kept, in exact mode). */
  readonly keepValues?: ReadonlySet<string>;
  /** Also aggregate per bucket of this many ms (charts). */
  readonly bucketMs?: number;
}

interface MetricPlan {
  readonly name: string;
  readonly from: number;
  readonly windowMs: number;
  readonly make: () => Reducer;
}

type ReducerSet = Reducer[];

export class RecordAggregator {
  private readonly scanner: FieldScanner;
  private readonly row: FieldValue[];
  private readonly derived: { at: number; from: number; map: (v: FieldValue) => FieldValue }[] = [];
  private readonly timeAt: number;
  private readonly cohortAt: number;
  private readonly plans: MetricPlan[];
  private readonly cohortSets = new Map<string, ReducerSet>();
  private readonly buckets = new Map<number, Map<string, ReducerSet>>();
  private readonly keyToCohorts: Map<string, string[]> | null;
  private readonly from: number;
  private stats = { lines: 0, malformed: 0, records: 0, untimed: 0, bytes: 0, files: new Set<string>(), malformedAt: [] as string[] };

  constructor(readonly opts: AggregatorOptions) {
    const { config, metrics, window } = opts;
    const wanted: string[] = [];
    const nginx = config.kind === 'nginx';
    const raw: string[] = [];
    const index = (path: string): number => {
      let i = wanted.indexOf(path);
      if (i >= 0) return i;
      wanted.push(path);
      i = wanted.length - 1;
      const d = nginx ? NGINX_DERIVED[path] : undefined;
      if (d) this.derived.push({ at: i, from: rawIndex(d.from), map: d.map });
      else rawIndex(path);
      return i;
    };
    const rawIndex = (path: string) => {
      let i = raw.indexOf(path);
      if (i < 0) i = raw.push(path) - 1;
      return i;
    };
    this.timeAt = index(config.timeField);
    this.cohortAt = config.cohortBy === 'host' ? -1 : index(config.cohortBy.field);
    this.plans = Object.entries(metrics).map(([name, m]) => {
      fieldsOf(m).forEach(index);
      const windowMs = m.window ?? window.to - window.from;
      return { name, windowMs, from: window.to - windowMs, make: reducerFactory(m, index, opts.keepValues?.has(name) ?? false) };
    });
    this.from = Math.min(window.from, ...this.plans.map((p) => p.from));
    this.scanner = new FieldScanner(raw, config.timeField);
    // the row the reducers read: wanted paths, each either a raw field (copied) or derived
    this.row = new Array<FieldValue>(wanted.length);
    this.copy = wanted.map((p, i) => ({ at: i, from: this.derived.some((d) => d.at === i) ? -1 : raw.indexOf(p) })).filter((c) => c.from >= 0);
    this.keyToCohorts = typeof opts.cohorts === 'object' ? invert(opts.cohorts) : null;
    this.direct = this.derived.length === 0 && wanted.length === raw.length && this.copy.every((c) => c.at === c.from);
  }

  private readonly copy: { at: number; from: number }[];
  /** The scanner's row is the reducers' row (no derived field, same order): no copy. */
  private readonly direct: boolean;

  /** One line of a log: buf[start, end), from `host`, at byte `offset` of `file` (named when malformed). */
  line(buf: Buffer, start: number, end: number, host: string, file: string, offset: number): void {
    this.stats.lines++;
    this.stats.bytes += end - start + 1;
    if (end <= start || (end - start === 1 && buf[start] === 0x0d)) return; // blank line
    let raw: FieldValue[];
    try {
      raw = this.scanner.scan(buf, start, end);
    } catch (err) {
      if (!(err instanceof Malformed) && !(err instanceof SyntaxError)) throw err;
      this.stats.malformed++;
      if (this.stats.malformedAt.length < MAX_MALFORMED_AT) this.stats.malformedAt.push(`${host}:${file}:${offset}`);
      return;
    }
    if (this.direct) return this.record(raw, host);
    const row = this.row;
    for (const c of this.copy) row[c.at] = raw[c.from];
    for (const d of this.derived) row[d.at] = d.map(raw[d.from]);
    this.record(row, host);
  }

  /** A record already decoded (replays, tests): the same path as a line. */
  record(row: Row, host: string): void {
    const t = timeOf(row[this.timeAt]);
    if (t === null) {
      this.stats.untimed++;
      return;
    }
    if (t < this.from || t >= this.opts.window.to) return;
    this.stats.records++;
    const key = this.cohortAt < 0 ? host : String(row[this.cohortAt] ?? '');
    const names = this.cohortsOf(key);
    if (!names) return;
    for (const name of names) this.feed(this.setFor(this.cohortSets, name), row, t);
    if (this.opts.bucketMs) {
      const b = this.opts.window.to - Math.ceil((this.opts.window.to - t) / this.opts.bucketMs) * this.opts.bucketMs;
      let m = this.buckets.get(b);
      if (!m) this.buckets.set(b, (m = new Map()));
      for (const name of names) this.feed(this.setFor(m, name), row, Infinity); // every metric: a bucket is its own window
    }
  }

  noteFile(file: string): void {
    this.stats.files.add(file);
  }

  private cohortsOf(key: string): readonly string[] | undefined {
    if (this.opts.cohorts === 'all') return ONLY_ALL;
    if (this.opts.cohorts === 'keys') return [key];
    return this.keyToCohorts!.get(key);
  }

  private setFor(map: Map<string, ReducerSet>, cohort: string): ReducerSet {
    let set = map.get(cohort);
    if (!set) map.set(cohort, (set = this.plans.map((p) => p.make())));
    return set;
  }

  private feed(set: ReducerSet, row: Row, t: number): void {
    for (let i = 0; i < set.length; i++) if (t >= this.plans[i]!.from) set[i]!.add(row);
  }

  /** cohort -> metric -> value. Every named cohort appears, with no data when nothing fell in it. */
  values(): Record<string, Record<string, MetricValue>> {
    const out: Record<string, Record<string, MetricValue>> = {};
    const names = this.opts.cohorts === 'all' ? [ALL] : this.opts.cohorts === 'keys' ? [...this.cohortSets.keys()] : Object.keys(this.opts.cohorts);
    for (const name of names) out[name] = this.resultOf(this.setFor(this.cohortSets, name), (p) => p.windowMs);
    return out;
  }

  /** bucket start (epoch ms) -> cohort -> metric -> value, in time order (only with bucketMs). */
  bucketValues(): { at: number; cohorts: Record<string, Record<string, MetricValue>> }[] {
    const size = this.opts.bucketMs ?? 0;
    return [...this.buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([at, m]) => ({ at, cohorts: Object.fromEntries([...m.entries()].map(([c, set]) => [c, this.resultOf(set, () => size)])) }));
  }

  private resultOf(set: ReducerSet, windowMs: (p: MetricPlan) => number): Record<string, MetricValue> {
    return Object.fromEntries(this.plans.map((p, i) => [p.name, set[i]!.result(windowMs(p))]));
  }

  /** What this aggregator holds, to be merged into another one over the same options (lines read in parallel). */
  partial(): AggregatorPartial {
    const sets = (m: Map<string, ReducerSet>) => [...m.entries()].map(([c, set]) => [c, set.map((r) => r.partial())] as [string, ReducerPartial[]]);
    const s = this.stats;
    return {
      cohorts: sets(this.cohortSets),
      buckets: [...this.buckets.entries()].map(([at, m]) => [at, sets(m)]),
      stats: { lines: s.lines, malformed: s.malformed, records: s.records, untimed: s.untimed, bytes: s.bytes, files: [...s.files], malformedAt: [...s.malformedAt] },
    };
  }

  /** Adds the partial of lines that came after the ones this aggregator saw. */
  absorb(p: AggregatorPartial): void {
    const into = (m: Map<string, ReducerSet>, sets: [string, ReducerPartial[]][]) => {
      for (const [c, parts] of sets) {
        const set = this.setFor(m, c);
        parts.forEach((part, i) => set[i]!.merge(part));
      }
    };
    into(this.cohortSets, p.cohorts);
    for (const [at, sets] of p.buckets) {
      let m = this.buckets.get(at);
      if (!m) this.buckets.set(at, (m = new Map()));
      into(m, sets);
    }
    const s = this.stats;
    s.lines += p.stats.lines;
    s.malformed += p.stats.malformed;
    s.records += p.stats.records;
    s.untimed += p.stats.untimed;
    s.bytes += p.stats.bytes;
    p.stats.files.forEach((f) => s.files.add(f));
    s.malformedAt.push(...p.stats.malformedAt.slice(0, Math.max(0, MAX_MALFORMED_AT - s.malformedAt.length)));
  }

  sourceStats(): SourceStats {
    const s = this.stats;
    return { lines: s.lines, malformed: s.malformed, records: s.records, untimed: s.untimed, bytes: s.bytes, files: [...s.files], malformedAt: [...s.malformedAt] };
  }
}

const ONLY_ALL = [ALL];

function invert(cohorts: Readonly<Record<string, readonly string[]>>): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [name, keys] of Object.entries(cohorts)) for (const k of keys) m.set(k, [...(m.get(k) ?? []), name]);
  return m;
}
