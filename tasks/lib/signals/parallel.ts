/**
 * A large stretch of a log on this machine read by several worker threads at once (one part each,
 * split at line boundaries), their partial aggregations merged in order. Used by collectOnce for
 * ranges of at least PARALLEL_MIN_BYTES; everything else is read in this thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { AggregatorOptions, AggregatorPartial, RecordAggregator } from './aggregate.ts';
import type { PartJob } from './parallel-worker.ts';
import type { LogRange } from './sources/log-reader.ts';

export const PARALLEL_MIN_BYTES = 32 << 20;
const MAX_PARTS = 4;

/** How many parts a range is read in (1: not worth a thread). */
export function partsFor(length: number, cpus = availableParallelism()): number {
  if (length < PARALLEL_MIN_BYTES) return 1;
  return Math.max(1, Math.min(MAX_PARTS, cpus, Math.floor(length / (PARALLEL_MIN_BYTES / 2))));
}

/** The worker is TypeScript: it registers tsx itself (parallel-worker.mjs), which needs this thread to run under tsx too. */
export function canReadInParallel(): boolean {
  return process.execArgv.some((a) => /tsx/.test(a)) && availableParallelism() > 1;
}

/** Reads `range` of `path` in `parts` worker threads into `agg`; returns the bytes of complete lines consumed. */
export async function readInParallel(path: string, host: string, range: LogRange, agg: RecordAggregator, options: AggregatorOptions, parts: number): Promise<number> {
  const rangeEnd = range.offset + range.length;
  const bounds = Array.from({ length: parts + 1 }, (_, i) => range.offset + Math.floor((i * range.length) / parts));
  const { keepValues, ...rest } = options;
  const results = await Promise.all(
    bounds.slice(0, -1).map((start, i) => {
      const job: PartJob = {
        options: { ...rest, keepValues: [...(keepValues ?? [])] },
        path,
        name: range.name,
        host,
        start,
        end: bounds[i + 1]!,
        rangeEnd,
        first: i === 0,
        flush: !range.newest && i === parts - 1,
      };
      return new Promise<{ partial: AggregatorPartial; lastEnd: number }>((resolve, reject) => {
        const w = new Worker(new URL('./parallel-worker.mjs', import.meta.url), { workerData: job, execArgv: [] });
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`a log reader thread exited ${code}`)));
      });
    }),
  );
  for (const r of results) agg.absorb(r.partial);
  return Math.max(range.offset, ...results.map((r) => r.lastEnd)) - range.offset;
}
