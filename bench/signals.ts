/**
 * signals: the five seed gates (linear head share, regex share, P95, tie-break range, low
 * confidence share) over one JSONL file of 1,000,000 records against the seed's own way of getting
 * ONE of them (`jq '.latency_ms' | sort -n`), target >= 5x faster; peak memory for 1M vs 4M
 * records within 20%; the traffic generator's rate (600/min within ±2%) and bursts (within 50 ms
 * of their schedule). The generator runs 20 s by default, 2 minutes with `signals-long`.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SignalsConfig, type Signals, type SignalsInput } from '../tasks/lib/config/signals.ts';
import { collectOnce } from '../tasks/lib/signals/collect.ts';
import { evaluateGateSet } from '../tasks/lib/signals/evaluate.ts';
import { openSources } from '../tasks/lib/signals/sources/open.ts';
import { Corpus, seededRandom } from '../tasks/lib/traffic/corpus.ts';
import { generate } from '../tasks/lib/traffic/generate.ts';
import { median, table, type Verdict } from './stats.ts';

const exec = promisify(execFile);
const T0 = Date.parse('2026-12-01T00:00:00Z');
const EMOTIONS = ['joy', 'fear', 'anger', 'frustration', 'sadness', 'neutral'];

/** The five seed gates over one file (`on: local`). */
export function seedSignals(file: string): Signals {
  return SignalsConfig.parse({
    window: '24h',
    sources: { app: { kind: 'jsonl', path: file, on: 'local' } },
    metrics: {
      linear: { kind: 'share', source: 'app', field: 'route', equals: 'linear_head' },
      regex: { kind: 'share', source: 'app', field: 'route', equals: 'regex' },
      p95: { kind: 'quantile', source: 'app', field: 'latency_ms', q: 0.95 },
      tiebreak: { kind: 'share', source: 'app', field: 'prediction.rule_applied', present: true },
      lowconf: { kind: 'share', source: 'app', field: 'prediction.low_confidence', equals: true },
    },
    gates: [
      { name: 'linear-head', metric: 'linear', min: 90 },
      { name: 'regex-fallback', metric: 'regex', max: 1 },
      { name: 'p95-latency', metric: 'p95', max: 200 },
      { name: 'tie-break', metric: 'tiebreak', range: [1, 5] },
      { name: 'low-confidence', metric: 'lowconf', max: 25 },
    ],
  } satisfies SignalsInput);
}

/** Seed-shaped records, one every 20 ms from T0 (deterministic). */
export async function writeRecords(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  const rand = seededRandom(42);
  let buf = '';
  for (let i = 0; i < n; i++) {
    const r = {
      timestamp: new Date(T0 + i * 20).toISOString(),
      request_id: i.toString(16),
      route: rand() < 0.995 ? 'linear_head' : 'regex',
      status: rand() < 0.005 ? 500 : 200,
      latency_ms: Math.round((20 + rand() * 160) * 100) / 100,
      version: 'v1.1.0',
      intent: 'transaction_search.simple',
      prediction: { primary: EMOTIONS[i % 6], confidence: Math.round(rand() * 1000) / 1000, low_confidence: rand() < 0.2, rule_applied: rand() < 0.03 ? 'tiebreak_anger_keyword' : null },
      text_preview: 'Mes dépenses du mois, écrivez à [EMAIL]',
    };
    buf += `${JSON.stringify(r)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
      buf = '';
    }
  }
  await new Promise<void>((r) => out.end(buf, () => r()));
}

/** The five gates over the file, in this process; the verdicts (for the child's report). */
export async function fiveGates(file: string, parallel = false): Promise<string> {
  const signals = seedSignals(file);
  const sources = openSources(signals, { hosts: [], runnerFor: () => { throw new Error('local only'); } });
  const to = T0 + 86_400_000;
  const c = await collectOnce(signals, sources, { window: { from: T0, to }, cohorts: 'all', parallel });
  const r = evaluateGateSet({ signals, values: c.values, cohort: 'all', now: to });
  return r.evaluations.map((e) => `${e.gate}=${e.verdict}(${e.value?.toFixed(2)})`).join(' ');
}

/** Runs the five gates in a child process: the work's time, the process's wall time, and its peak RSS (maxRSS). */
function child(repo: string, file: string, parallel = false): Promise<{ ms: number; wallMs: number; rssMb: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'bench/signals-child.ts'), file, ...(parallel ? ['--parallel'] : [])], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => {
      const wallMs = performance.now() - t0;
      const m = /maxrss_kb=(\d+) work_ms=(\d+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`signals child failed (${code}): ${out}`));
      resolve({ ms: Number(m[2]), wallMs, rssMb: Number(m[1]) / 1024, out: out.split('\n')[0]! });
    });
  });
}

async function jqSort(file: string): Promise<number> {
  const t0 = performance.now();
  await exec('bash', ['-o', 'pipefail', '-c', 'jq ".latency_ms" "$1" | sort -n > /dev/null', 'bash', file], { maxBuffer: 1 << 20 });
  return performance.now() - t0;
}

async function generatorRun(durationMs: number): Promise<{ perMin: number; maxLateMs: number; sent: number; bursts: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/chat`;
  const corpus = Corpus.parse({ scenarios: { normal: { weight: 70, requests: ['a'] }, borderline: { weight: 20, requests: ['b'] }, pii: { weight: 5, pii: true, requests: ['c'] }, edge: { weight: 5, requests: ['d'] } } });
  let bursts = 0;
  let burstLate = 0;
  try {
    const s = await generate({
      request: { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: { message: '{message}' }, timeout: 5000 },
      targets: [url],
      corpus,
      schedule: { perMin: 600, burstEveryMs: 10_000, burstSize: 5, jitterMs: 0 },
      piiMaxPerMin: 2,
      concurrency: 16,
      durationMs,
      rand: seededRandom(1),
      onRecord: (r) => {
        if (r.burst) {
          bursts++;
          burstLate = Math.max(burstLate, r.late_ms);
        }
      },
    });
    const steady = s.sent - bursts;
    return { perMin: (steady * 60_000) / durationMs, maxLateMs: Math.max(burstLate, s.maxLateMs), sent: s.sent, bursts };
  } finally {
    server.close();
  }
}

export async function benchSignals(repo: string, long: boolean): Promise<{ text: string; verdicts: Verdict[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-signals-'));
  try {
    const f1 = path.join(dir, 'predictions_1m.jsonl');
    const f4 = path.join(dir, 'predictions_4m.jsonl');
    await writeRecords(f1, 1_000_000);
    await writeRecords(f4, 4_000_000);
    const ours: number[] = [];
    const oursWall: number[] = [];
    const threads: number[] = [];
    const jq: number[] = [];
    const rss1: number[] = [];
    const rss4: number[] = [];
    let verdicts = '';
    for (let i = 0; i < 3; i++) {
      const a = await child(repo, f1);
      ours.push(a.ms);
      oursWall.push(a.wallMs);
      rss1.push(a.rssMb);
      verdicts = a.out;
      jq.push(await jqSort(f1));
      rss4.push((await child(repo, f4)).rssMb);
      threads.push((await child(repo, f1, true)).ms);
    }
    const gen = await generatorRun(long ? 120_000 : 20_000);
    const mOurs = median(ours);
    const mJq = median(jq);
    const r1 = median(rss1);
    const r4 = median(rss4);
    const text = [
      table('signals: one JSONL file of 1,000,000 records (282 MB)', [
        { name: "jq '.latency_ms' | sort -n (ONE metric, the seed's way)", median: mJq, samples: jq.length },
        { name: 'the five seed gates: reading and judging', median: mOurs, samples: ours.length, note: verdicts },
        { name: 'the same, with starting node + tsx', median: median(oursWall), samples: oursWall.length },
        { name: `the same, read by ${os.availableParallelism()} threads (collectOnce parallel: true)`, median: median(threads), samples: threads.length, note: `load average ${os.loadavg()[0]!.toFixed(1)}` },
      ]),
      table('signals: peak memory (max RSS of the process)', [
        { name: '1M records', median: r1, samples: rss1.length },
        { name: '4M records', median: r4, samples: rss4.length },
      ], (v) => `${v.toFixed(0)} MB`),
      `\nsignals: traffic generator, 600/min with bursts of 5 every 10 s, ${long ? '2 minutes' : '20 s (2 minutes with: npm run bench -- signals-long)'}:` +
        ` ${gen.perMin.toFixed(1)}/min steady (${gen.sent} sent, ${gen.bursts} in bursts), latest start ${gen.maxLateMs} ms after its schedule`,
    ].join('\n');
    return {
      text,
      verdicts: [
        { target: 'five seed gates >= 5x faster than jq | sort -n for one', ok: mJq / mOurs >= 5, measured: `${(mJq / 1000).toFixed(2)} s vs ${(mOurs / 1000).toFixed(2)} s: ${(mJq / mOurs).toFixed(1)}x` },
        { target: 'peak memory 4M records within 20% of 1M', ok: Math.abs(r4 - r1) / r1 <= 0.2, measured: `${r1.toFixed(0)} MB vs ${r4.toFixed(0)} MB (${(((r4 - r1) / r1) * 100).toFixed(1)}%)` },
        { target: `generator holds 600/min within ±2% (${long ? '2 min' : '20 s'})`, ok: Math.abs(gen.perMin - 600) / 600 <= 0.02, measured: `${gen.perMin.toFixed(1)}/min` },
        { target: 'bursts start within 50 ms of their schedule', ok: gen.maxLateMs <= 50, measured: `${gen.maxLateMs} ms at most` },
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
