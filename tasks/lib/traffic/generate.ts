/**
 * The traffic generator as a library: slots from the schedule, a scenario per request from the
 * corpus, at most `concurrency` requests in flight, Retry-After honoured on 429 (sending pauses),
 * bounded by a number of events or a duration. Clock and sleep are injected (tests control them).
 */
import type { RequestTemplate } from '../config/signals.ts';
import { nearestRank } from '../signals/quantile.ts';
import { send, type Sent } from '../signals/send.ts';
import { Picker, type Corpus } from './corpus.ts';
import { Schedule, type ScheduleOptions } from './schedule.ts';

export interface SentRecord {
  readonly time: string;
  readonly scenario: string;
  readonly target: string;
  readonly status: number | null;
  readonly latency_ms: number;
  readonly version: string | null;
  readonly burst: boolean;
  /** How late it went out against its slot (ms). */
  readonly late_ms: number;
  readonly error?: string;
}

export interface GenerateOptions {
  readonly request: RequestTemplate;
  /** Where requests go, in turn (the load balancer, or each host). */
  readonly targets: readonly string[];
  readonly corpus: Corpus;
  readonly schedule: ScheduleOptions;
  readonly piiMaxPerMin?: number;
  readonly concurrency: number;
  readonly maxEvents?: number;
  readonly durationMs?: number;
  readonly rand: () => number;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  readonly onRecord?: (r: SentRecord) => void;
  /** For tests: replaces the HTTP request. */
  readonly sendFn?: (url: string, message: string) => Promise<Sent>;
}

export interface TrafficSummary {
  readonly sent: number;
  readonly answered: number;
  readonly errors: number;
  readonly byStatus: Readonly<Record<string, number>>;
  readonly byScenario: Readonly<Record<string, number>>;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly startedAt: number;
  readonly finishedAt: number;
  /** Sent per minute over the run. */
  readonly ratePerMin: number;
  readonly maxLateMs: number;
  readonly stoppedBy: 'max-events' | 'duration' | 'interrupted';
  readonly retryAfterPauses: number;
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, Math.max(0, ms));
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

export async function generate(o: GenerateOptions): Promise<TrafficSummary> {
  if (o.maxEvents === undefined && o.durationMs === undefined) throw new Error('generate: give maxEvents or durationMs (never unbounded)');
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? realSleep;
  const start = now();
  const schedule = new Schedule(start, o.schedule, o.rand);
  const picker = new Picker(o.corpus, o.rand, o.piiMaxPerMin);
  const doSend = o.sendFn ?? ((url: string, message: string) => send(o.request, url, message, o.signal));
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};
  const byScenario: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let maxLate = 0;
  let pausedUntil = 0;
  let pauses = 0;
  let stoppedBy: TrafficSummary['stoppedBy'] = 'max-events';
  const inFlight = new Set<Promise<void>>();
  const end = o.durationMs !== undefined ? start + o.durationMs : Infinity;

  try {
    outer: for (;;) {
      for (const slot of schedule.next()) {
        if (o.maxEvents !== undefined && sent >= o.maxEvents) break outer;
        if (slot.at >= end) {
          stoppedBy = 'duration';
          break outer;
        }
        // a free place first (an answer in flight may be a 429 that pauses sending), then the slot's time
        for (;;) {
          while (inFlight.size >= o.concurrency) await Promise.race(inFlight);
          const wait = Math.max(slot.at, pausedUntil) - now();
          if (wait <= 0) break;
          await sleep(wait, o.signal);
        }
        const at = now();
        const late = Math.max(0, at - slot.at);
        if (pausedUntil <= slot.at) maxLate = Math.max(maxLate, late);
        const pick = picker.pick(at);
        const target = o.targets[sent % o.targets.length]!;
        sent++;
        byScenario[pick.scenario] = (byScenario[pick.scenario] ?? 0) + 1;
        const p = doSend(target, pick.message).then((r) => {
          const key = r.status === null ? 'no answer' : String(r.status);
          byStatus[key] = (byStatus[key] ?? 0) + 1;
          if (r.status !== null) {
            answered++;
            latencies.push(r.latencyMs);
          }
          if (r.status === null || r.status >= 500) errors++;
          if (r.status === 429) {
            pausedUntil = Math.max(pausedUntil, now() + (r.retryAfterS ?? 1) * 1000);
            pauses++;
          }
          o.onRecord?.({ time: new Date(at).toISOString(), scenario: pick.scenario, target, status: r.status, latency_ms: r.latencyMs, version: r.version, burst: slot.burst, late_ms: Math.round(late), ...(r.error ? { error: r.error } : {}) });
        });
        const tracked = p.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }
  } catch (err) {
    if (!o.signal?.aborted) throw err;
    stoppedBy = 'interrupted';
  }
  await Promise.allSettled(inFlight);
  const finishedAt = now();
  const sorted = Float64Array.from(latencies).sort();
  return {
    sent,
    answered,
    errors,
    byStatus,
    byScenario,
    p50: sorted.length ? nearestRank(sorted, sorted.length, 0.5) : null,
    p95: sorted.length ? nearestRank(sorted, sorted.length, 0.95) : null,
    startedAt: start,
    finishedAt,
    ratePerMin: finishedAt > start ? (sent * 60_000) / (finishedAt - start) : 0,
    maxLateMs: Math.round(maxLate),
    stoppedBy,
    retryAfterPauses: pauses,
  };
}

/** Live figures for the progress line. */
export function progressLine(sent: number, errors: number, latencies: readonly number[], elapsedMs: number): string {
  const sorted = Float64Array.from(latencies).sort();
  const p95 = sorted.length ? `${Math.round(nearestRank(sorted, sorted.length, 0.95))} ms` : '-';
  const rate = elapsedMs > 0 ? ((sent * 60_000) / elapsedMs).toFixed(1) : '0';
  return `sent ${sent}, ${rate}/min, errors ${errors}, P95 so far ${p95}`;
}
