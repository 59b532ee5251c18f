/**
 * One part of a large local log read in a worker thread: the lines that START in [start, end) of
 * the file (a line that began in the part before belongs to it; the one running over `end` is
 * finished here), aggregated, and handed back as a partial to merge.
 */
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { RecordAggregator, type AggregatorOptions } from './aggregate.ts';
import { LineSplitter } from './sources/lines.ts';

export interface PartJob {
  readonly options: Omit<AggregatorOptions, 'keepValues'> & { keepValues: string[] };
  readonly path: string;
  readonly name: string;
  readonly host: string;
  readonly start: number;
  readonly end: number;
  /** End of the whole range: a line may run past `end` up to here. */
  readonly rangeEnd: number;
  readonly first: boolean;
  /** The file will not grow: its unfinished last line counts as a line. */
  readonly flush: boolean;
}

async function run(job: PartJob): Promise<void> {
  const agg = new RecordAggregator({ ...job.options, keepValues: new Set(job.options.keepValues) });
  const from = job.first ? job.start : job.start - 1; // one byte back: is `start` the beginning of a line?
  let skip = !job.first;
  let done = false;
  let lastEnd = job.start;
  const splitter = new LineSplitter((buf, s, e, at) => {
    if (done) return;
    const offset = from + at;
    if (skip) {
      skip = false; // the end of a line that began in the part before (or the empty line before `start`)
      return;
    }
    if (offset >= job.end) {
      done = true;
      return;
    }
    agg.line(buf, s, e, job.host, job.name, offset);
    lastEnd = offset + (e - s) + 1;
  });
  if (from < job.rangeEnd) {
    for await (const chunk of createReadStream(job.path, { start: from, end: job.rangeEnd - 1, highWaterMark: 1 << 20 })) {
      splitter.push(chunk as Buffer);
      if (done) break;
    }
  }
  if (!done && job.flush) {
    const before = splitter.consumed;
    splitter.flushPartial();
    if (splitter.consumed > before) lastEnd = Math.min(job.rangeEnd, from + splitter.consumed);
  }
  const partial = agg.partial();
  const transfer = partial.cohorts.flatMap(([, ps]) => ps.flatMap((p) => (p.k === 'values' && p.acc?.values ? [p.acc.values.buffer as ArrayBuffer] : [])));
  parentPort!.postMessage({ partial, lastEnd: Math.min(lastEnd, job.rangeEnd) }, transfer);
}

run(workerData as PartJob).catch((err) => {
  throw err;
});
