/**
 * The live monitor: every tick it reads only what is new in each request log (byte offsets),
 * keeps the lines of the last window (and nothing older), asks Prometheus, and judges the gate
 * set with its clocks. Its state is plain JSON: where each log must be read from to rebuild the
 * window, and every clock. Hand the state to a Monitor on another machine and it resumes there.
 * `replayFile` runs the same code over a recorded JSONL file, ticking on the records' own time.
 */
import { createReadStream } from 'node:fs';
import type { Signals } from '../config/signals.ts';
import { ALL, type CohortSpec } from './aggregate.ts';
import { cohortNames, mergeCohorts, newAggregator, promValues, unavailableValues, type Bucket } from './collect.ts';
import { evaluateGateSet } from './evaluate.ts';
import { FieldScanner, timeOf } from './scan.ts';
import { LineSplitter } from './sources/lines.ts';
import type { LogPosition } from './sources/log-reader.ts';
import type { OpenRecordSource, OpenSource, SourcePositions } from './sources/open.ts';
import type { ClockState, GateSetResult, MetricValue, SourceStats, WindowValues } from './types.ts';

/** What a monitor needs to resume elsewhere. */
export interface MonitorState {
  readonly version: 1;
  /** Where each log must be read from so the whole window is seen again (source -> host -> position). */
  readonly positions: SourcePositions;
  /** cohort -> gate -> clock. */
  readonly clocks: Readonly<Record<string, Readonly<Record<string, ClockState>>>>;
  /** Epoch ms of the last tick. */
  readonly lastTick: number | null;
}

export interface Judge {
  /** The cohort judged, and the one it is compared with. */
  readonly cohort: string;
  readonly baseline?: string;
}

export interface MonitorOptions {
  readonly cohorts: CohortSpec;
  /** The cohorts to judge each tick (default: `all`, or every named cohort without a baseline). */
  readonly judge?: readonly Judge[];
  readonly gates?: readonly string[];
  readonly state?: MonitorState;
  readonly signal?: AbortSignal;
  /**
   * No record before this instant (ms) is read or judged: a canary step judges only what its own
   * traffic produced (not what the host served on its previous release, nor its restart).
   */
  readonly notBefore?: number;
}

export interface Round {
  readonly now: number;
  readonly values: WindowValues;
  readonly results: readonly GateSetResult[];
  /** Lines and bytes read this tick, per source. */
  readonly read: Readonly<Record<string, { lines: number; bytes: number }>>;
}

interface Kept {
  readonly t: number;
  readonly host: string;
  readonly file: string;
  readonly offset: number;
  readonly line: Buffer;
}

export class Monitor {
  private readonly kept = new Map<string, Kept[]>();
  private clocks: Record<string, Record<string, ClockState>>;
  private lastTick: number | null;
  private readonly timeScanners = new Map<string, FieldScanner>();
  private readonly maxWindow: number;

  constructor(
    readonly signals: Pick<Signals, 'metrics' | 'gates' | 'window'>,
    readonly sources: ReadonlyMap<string, OpenSource>,
    readonly opts: MonitorOptions,
  ) {
    this.clocks = structuredClone((opts.state?.clocks ?? {}) as Record<string, Record<string, ClockState>>);
    this.lastTick = opts.state?.lastTick ?? null;
    this.maxWindow = Math.max(signals.window, ...Object.values(signals.metrics).map((m) => m.window ?? 0));
    for (const s of sources.values()) if (s.kind === 'records') this.kept.set(s.name, []);
  }

  /** Who is judged: as told, else every cohort (with `keys`: every key seen in the window). */
  private judges(values: WindowValues): readonly Judge[] {
    if (this.opts.judge) return this.opts.judge;
    return cohortNames(this.opts.cohorts, Object.keys(values.cohorts)).map((cohort) => ({ cohort }));
  }

  /** A line of a record source (replays and tests feed lines themselves). */
  ingest(source: string, host: string, buf: Buffer, start: number, end: number, file: string, offset: number, fallbackTime: number): void {
    const s = this.sources.get(source);
    if (!s || s.kind !== 'records') throw new Error(`no record source ${source}`);
    let scanner = this.timeScanners.get(source);
    if (!scanner) this.timeScanners.set(source, (scanner = new FieldScanner([s.config.timeField])));
    let t: number | null = null;
    try {
      t = timeOf(scanner.scan(buf, start, end)[0]);
    } catch {
      // malformed: kept so the window's aggregation counts it
    }
    this.kept.get(source)!.push({ t: t ?? fallbackTime, host, file, offset, line: Buffer.from(buf.subarray(start, end)) });
  }

  /** Reads what is new, then evaluates at `now`. */
  async tick(now: number): Promise<Round> {
    const { read, failures } = await this.read(Math.max(now - this.maxWindow, this.opts.notBefore ?? -Infinity), now);
    return { ...(await this.evaluate(now, failures)), read };
  }

  /**
   * Reads what is new into the kept lines (a fresh reader starts at `since`, a day of slack for
   * file dates); `now` stands for lines without a usable time. What `tick` does before evaluating.
   */
  async read(since: number, now: number): Promise<{ read: Record<string, { lines: number; bytes: number }>; failures: Map<string, string> }> {
    const read: Record<string, { lines: number; bytes: number }> = {};
    const failures = new Map<string, string>();
    await Promise.all(
      [...this.sources.values()].map(async (s) => {
        if (s.kind !== 'records') return;
        let lines = 0;
        let bytes = 0;
        // every host at once (each its own connection): an interval costs one round trip, not one per host
        await Promise.all(
          s.readers.map(async (reader) => {
            try {
              const r = await reader.read(
                (buf, a, b, file, offset) => {
                  lines++;
                  this.ingest(s.name, reader.host, buf, a, b, file, offset, now);
                },
                { since, ...(this.opts.signal ? { signal: this.opts.signal } : {}) },
              );
              bytes += r.bytes;
            } catch (err) {
              if (this.opts.signal?.aborted) throw err;
              if (!failures.has(s.name)) failures.set(s.name, `${reader.host}: ${(err as Error).message}`);
            }
          }),
        );
        read[s.name] = { lines, bytes };
      }),
    );
    return { read, failures };
  }

  /** Evaluates at `now` over what is kept (no reading): drops what fell out of the window first. */
  async evaluate(now: number, failures: ReadonlyMap<string, string> = new Map()): Promise<Omit<Round, 'read'>> {
    const window = { from: Math.max(now - this.signals.window, this.opts.notBefore ?? -Infinity), to: now };
    const opts = { window, cohorts: this.opts.cohorts, ...(this.opts.signal ? { signal: this.opts.signal } : {}) };
    const parts: Record<string, Record<string, MetricValue>>[] = [];
    const stats: Record<string, SourceStats> = {};
    for (const s of this.sources.values()) {
      if (s.kind === 'prometheus') {
        const r = await promValues(this.signals, s, opts);
        parts.push(r.cohorts);
        stats[s.name] = r.stats;
        continue;
      }
      const kept = this.kept.get(s.name)!.filter((k) => k.t >= Math.max(now - this.maxWindow, this.opts.notBefore ?? -Infinity));
      this.kept.set(s.name, kept);
      const agg = newAggregator(this.signals, s, opts);
      for (const k of kept) agg.line(k.line, 0, k.line.length, k.host, k.file, k.offset);
      const failed = failures.get(s.name);
      const values = agg.values();
      parts.push(failed ? unavailableValues(this.signals, s.name, Object.keys(values).length ? Object.keys(values) : [ALL], failed) : values);
      stats[s.name] = { ...agg.sourceStats(), ...(failed ? { unavailable: failed } : {}) };
    }
    const values: WindowValues = { window, cohorts: mergeCohorts(parts), sources: stats };
    const results = this.judges(values).map((j) => {
      const r = evaluateGateSet({ signals: this.signals, values, cohort: j.cohort, ...(j.baseline !== undefined ? { baseline: j.baseline } : {}), clocks: this.clocks[j.cohort], ...(this.opts.gates ? { gates: this.opts.gates } : {}), now });
      this.clocks[j.cohort] = { ...r.clocks };
      return r;
    });
    this.lastTick = now;
    return { now, values, results };
  }

  /** The state to persist: positions from which the kept window can be read again, and the clocks. */
  state(): MonitorState {
    const positions: Record<string, Record<string, LogPosition>> = {};
    for (const s of this.sources.values()) {
      if (s.kind !== 'records') continue;
      positions[s.name] = Object.fromEntries(s.readers.map((r) => [r.host, windowStart(r.position(), this.kept.get(s.name)!, r.host)]));
    }
    return { version: 1, positions, clocks: structuredClone(this.clocks), lastTick: this.lastTick };
  }
}

/** The reader's position moved back to the oldest line still kept for that host (so a resume sees the window). */
function windowStart(current: LogPosition, kept: readonly Kept[], host: string): LogPosition {
  let oldest: Kept | undefined;
  for (const k of kept) if (k.host === host && (!oldest || k.file < oldest.file || (k.file === oldest.file && k.offset < oldest.offset))) oldest = k;
  if (!oldest) return current;
  const offsets: Record<string, number> = { [oldest.file]: oldest.offset };
  for (const f of Object.keys(current.offsets)) if (f > oldest.file) offsets[f] = 0; // newer files: read again whole
  return { offsets };
}

export interface ReplayOptions {
  /** The record source whose metrics apply to the file (default: the first record source). */
  readonly source?: string;
  readonly cohorts: CohortSpec;
  readonly judge?: readonly Judge[];
  /** Evaluate every this many ms of the records' time (default: signals.interval). */
  readonly interval: number;
  readonly signal?: AbortSignal;
}

/**
 * Replays a recorded JSONL file as if it were live: records in file order, an evaluation at every
 * interval of their time, clocks carried from one to the next. The host of every line is `replay`.
 */
export async function replayFile(signals: Pick<Signals, 'metrics' | 'gates' | 'window' | 'sources'>, file: string, opts: ReplayOptions): Promise<Round[]> {
  const name = opts.source ?? Object.entries(signals.sources).find(([, s]) => s.kind !== 'prometheus')?.[0];
  const config = name ? signals.sources[name] : undefined;
  if (!name || !config || config.kind === 'prometheus') throw new Error('replay needs a jsonl or nginx source whose metrics apply to the file');
  const source: OpenRecordSource = { kind: 'records', name, config, readers: [] };
  const metrics = Object.fromEntries(Object.entries(signals.metrics).filter(([, m]) => m.source === name));
  const gates = signals.gates.filter((g) => metrics[g.metric]);
  const monitor = new Monitor({ ...signals, metrics, gates }, new Map([[name, source]]), { cohorts: opts.cohorts, ...(opts.judge ? { judge: opts.judge } : {}) });
  const rounds: Round[] = [];
  const scanner = new FieldScanner([config.timeField]);
  let next: number | null = null;
  let lines = 0;
  const splitter = new LineSplitter((buf, s, e, offset) => {
    let t: number | null = null;
    try {
      t = timeOf(scanner.scan(buf, s, e)[0]);
    } catch {
      // counted as malformed by the aggregation
    }
    if (t !== null) {
      next ??= Math.floor(t / opts.interval) * opts.interval + opts.interval; // the first tick after the first record
      while (t >= next) {
        pending.push(next);
        next += opts.interval;
      }
    }
    monitor.ingest(name, 'replay', buf, s, e, file, offset, t ?? 0);
    lines++;
  });
  const pending: number[] = [];
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) })) {
    splitter.push(chunk as Buffer);
    // a tick sees every line before its time (lines after it in this chunk wait in `kept` with later times: filtered by the window's end)
    for (const at of pending.splice(0)) rounds.push({ ...(await monitor.evaluate(at)), read: { [name]: { lines, bytes: splitter.consumed } } });
  }
  splitter.flushPartial();
  if (next !== null) rounds.push({ ...(await monitor.evaluate(next)), read: { [name]: { lines, bytes: splitter.consumed } } });
  return rounds;
}

export type { Bucket };
