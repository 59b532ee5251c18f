/** Run with tsx: aggregates one generated log in one thread and in worker threads, prints both (they must be equal). */
import path from 'node:path';
import { writeRecords, seedSignals } from '../../bench/signals.ts';
import { collectOnce } from '../../tasks/lib/signals/collect.ts';
import { canReadInParallel, partsFor } from '../../tasks/lib/signals/parallel.ts';
import { statSync } from 'node:fs';
import { openSources } from '../../tasks/lib/signals/sources/open.ts';

const dir = process.argv[2]!;
const file = path.join(dir, 'p.jsonl');
await writeRecords(file, 150_000); // about 42 MB: two parts
const signals = seedSignals(file);
const window = { from: Date.parse('2026-12-01T00:00:00Z'), to: Date.parse('2026-12-02T00:00:00Z') };
const run = async (parallel: boolean) => {
  const c = await collectOnce(signals, openSources(signals, { hosts: [], runnerFor: () => { throw new Error('local'); } }), { window, cohorts: 'all', bucketMs: 600_000, parallel });
  const plain = (v: object) => JSON.parse(JSON.stringify(v, (k, x) => (k === 'values' && x instanceof Float64Array ? undefined : x)));
  return plain({ values: c.values.cohorts, stats: c.values.sources, buckets: c.buckets });
};
process.stdout.write(`${JSON.stringify({ threadsUsed: canReadInParallel() && partsFor(statSync(file).size) > 1, one: await run(false), threads: await run(true) })}\n`);
