/** The body of tasks/traffic.ts: flags over the environment's traffic settings, the generator, a JSONL of what was sent, a summary. */
import { setMaxListeners } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { newRunId } from '../base/run.ts';
import { probeUrl } from '../probes/http.ts';
import { environmentHosts } from '../verify/hosts.ts';
import { clockText, parseDuration, parseRatePerMin } from '../config/signal-duration.ts';
import { loadDataFile } from '../signals/files.ts';
import { signalsOf } from '../signals/environment.ts';
import { mdTable, writeSignalsReport } from '../signals/report/write.ts';
import { Corpus, seededRandom } from './corpus.ts';
import { generate, progressLine, type SentRecord, type TrafficSummary } from './generate.ts';

const MAX_DURATION_MS = 86_400_000;
const DEFAULT_EVENTS = 200; // the seed's smoke run

function dur(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw new UsageError(`--${name} ${JSON.stringify(v)}: not a duration; write e.g. 300ms, 120s, 10m`);
  return ms;
}

export async function trafficTask(args: ParsedArgs): Promise<ExitCode> {
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const t = signalsOf(env).traffic;
  if (!t) throw new UsageError(`${env.file} has no signals.traffic section (corpus, request): see docs/signals.md`);
  const rateText = str(args, 'rate') ?? t.rate;
  const perMin = parseRatePerMin(rateText);
  if (!perMin || perMin <= 0) throw new UsageError(`--rate ${JSON.stringify(rateText)}: write e.g. 20/min, 5/s, 600/h`);
  const num = (name: string, fallback: number | undefined, min: number) => {
    const v = str(args, name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} ${JSON.stringify(v)}: a whole number of at least ${min}`);
    return n;
  };
  const durationMs = dur('duration', str(args, 'duration'));
  if (durationMs !== undefined && (durationMs <= 0 || durationMs > MAX_DURATION_MS)) throw new UsageError(`--duration: between 1s and 24h`);
  const maxEvents = num('max-events', durationMs === undefined ? DEFAULT_EVENTS : undefined, 1);
  const burstEveryMs = dur('burst-every', str(args, 'burst-every')) ?? t.burstEvery;
  const jitterMs = dur('jitter', str(args, 'jitter')) ?? t.jitter;
  const corpus = await loadDataFile(str(args, 'corpus') ?? t.corpus, Corpus, 'corpus');
  const json = flag(args, 'json');

  // targets: --target URL, or --each-host (the request URL with {host} of every host, in turn), or the configured URL
  let targets: string[];
  const target = str(args, 'target');
  if (target) targets = [target];
  else if (flag(args, 'each-host')) {
    if (!t.request.url.includes('{host}')) throw new UsageError('--each-host needs signals.traffic.request.url with {host} in it');
    targets = (await environmentHosts(env)).map((h) => probeUrl(t.request.url, h.address));
  } else targets = [t.request.url.includes('{host}') ? probeUrl(t.request.url, (await environmentHosts(env))[0]!.address) : t.request.url];

  const runId = newRunId();
  const dir = path.resolve(env.backupDir, t.logDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logPath = path.join(dir, `traffic_${runId}.jsonl`);
  const log = createWriteStream(logPath, { mode: 0o600 });
  const note = (s: string) => process.stderr.write(`${s}\n`);
  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // every request and every wait listens to it
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++interrupts > 1) {
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // a second Ctrl-C: at once
      return;
    }
    note('\nstopping: waiting for the requests in flight (Ctrl-C again to quit at once)');
    ac.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const t0 = Date.now();
  const tty = process.stderr.isTTY;
  const progress = setInterval(() => {
    const line = progressLine(sent, errors, latencies, Date.now() - t0);
    process.stderr.write(tty ? `\r${line}   ` : `${line}\n`);
  }, tty ? 1000 : 10_000);
  note(`traffic to ${targets.join(', ')}: ${rateText}${burstEveryMs ? `, bursts of ${t.burstSize} every ${clockText(burstEveryMs)}` : ''}, jitter ${clockText(jitterMs)}, ` +
    `${maxEvents !== undefined ? `${maxEvents} events` : ''}${maxEvents !== undefined && durationMs !== undefined ? ' or ' : ''}${durationMs !== undefined ? clockText(durationMs) : ''}; log ${path.relative(process.cwd(), logPath)}`);
  let summary: TrafficSummary;
  try {
    summary = await generate({
      request: t.request,
      targets,
      corpus,
      schedule: { perMin, burstSize: num('burst-size', t.burstSize, 1)!, jitterMs, ...(burstEveryMs ? { burstEveryMs } : {}) },
      ...(t.piiMaxPerMin !== undefined || str(args, 'pii-max-per-min') ? { piiMaxPerMin: num('pii-max-per-min', t.piiMaxPerMin, 0)! } : {}),
      concurrency: num('concurrency', t.concurrency, 1)!,
      ...(maxEvents !== undefined ? { maxEvents } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      rand: seededRandom(num('seed', Date.now() % 2 ** 31, 0)!),
      signal: ac.signal,
      onRecord: (r: SentRecord) => {
        sent++;
        if (r.status === null || r.status >= 500) errors++;
        if (r.status !== null) latencies.push(r.latency_ms);
        log.write(`${JSON.stringify(r)}\n`);
      },
    });
  } finally {
    clearInterval(progress);
    if (tty) process.stderr.write('\n');
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await new Promise((r) => log.end(r));
  }
  const text = summaryLines(summary);
  const { startedAt, finishedAt, ...rest } = summary;
  const record = { startedAt: new Date(startedAt).toISOString(), finishedAt: new Date(finishedAt).toISOString(), targets, log: logPath, ...rest };
  let report = '';
  try {
    const md = ['# Traffic run', '', ...text.map((l) => `- ${l}`), '', '## Answers', '', ...mdTable(['Status', 'Count'], Object.entries(summary.byStatus)), '', '## Scenarios', '', ...mdTable(['Scenario', 'Sent'], Object.entries(summary.byScenario)), ''].join('\n');
    report = path.relative(process.cwd(), (await writeSignalsReport(env, 'traffic', runId, record.startedAt, record, md)).mdPath);
  } catch (err) {
    note(`warning: the traffic report was not written: ${(err as Error).message}`);
  }
  if (json) process.stdout.write(`${JSON.stringify({ ...record, report }, null, 2)}\n`);
  else process.stdout.write(`${[...text, `log: ${path.relative(process.cwd(), logPath)}`, ...(report ? [`report: ${report}`] : [])].join('\n')}\n`);
  return summary.stoppedBy === 'interrupted' ? ExitCode.interrupted : ExitCode.ok;
}

export function summaryLines(s: TrafficSummary): string[] {
  const ms = (v: number | null) => (v === null ? '-' : `${Math.round(v)} ms`);
  return [
    `sent ${s.sent} in ${clockText(s.finishedAt - s.startedAt)} (${s.ratePerMin.toFixed(1)}/min), stopped by ${s.stoppedBy}`,
    `answers: ${Object.entries(s.byStatus).map(([k, v]) => `${k} x${v}`).join(', ') || 'none'}; errors (5xx or none): ${s.errors}`,
    `latency P50 ${ms(s.p50)}, P95 ${ms(s.p95)}; latest start against schedule ${s.maxLateMs} ms; Retry-After pauses ${s.retryAfterPauses}`,
    `scenarios: ${Object.entries(s.byScenario).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  ];
}
