// The traffic generator with a controlled clock, the validation checks and verdict, the charts: no wall clock, no network.
import { describe, expect, it } from 'vitest';
import { Corpus, Picker, seededRandom } from '../../tasks/lib/traffic/corpus.ts';
import { generate, type SentRecord } from '../../tasks/lib/traffic/generate.ts';
import { Schedule } from '../../tasks/lib/traffic/schedule.ts';
import { check, judgeSuite, QuestionSet, runSuite } from '../../tasks/lib/validate/suite.ts';
import { xyChart } from '../../tasks/lib/signals/report/charts.ts';
import type { Sent } from '../../tasks/lib/signals/send.ts';

const corpus = Corpus.parse({
  scenarios: {
    normal: { weight: 70, requests: ['a', 'b'] },
    borderline: { weight: 20, requests: ['c'] },
    pii: { weight: 5, pii: true, requests: ['mail me at x@example.com'] },
    edge: { weight: 5, requests: ['🙂'] },
  },
});
const ok = (status = 200, retryAfterS: number | null = null): Sent => ({ status, latencyMs: 10, version: 'v1.1.0', body: '{}', retryAfterS });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => (t += ms) };
}

describe('traffic schedule and generator', () => {
  it('600/min holds exactly, bursts land on their schedule, every slot in time order', () => {
    const s = new Schedule(0, { perMin: 600, burstEveryMs: 120_000, burstSize: 5, jitterMs: 0 }, () => 0.5);
    const slots = Array.from({ length: 1300 }, () => s.next()).flat();
    const steady = slots.filter((x) => !x.burst);
    expect(steady.slice(0, 3).map((x) => x.at)).toEqual([0, 100, 200]);
    expect(steady.filter((x) => x.at < 120_000).length).toBe(1200);
    expect(slots.filter((x) => x.burst).map((x) => x.at)).toEqual([120_000, 120_000, 120_000, 120_000, 120_000]);
    expect(slots.map((x) => x.at)).toEqual([...slots.map((x) => x.at)].sort((a, b) => a - b));
    const jittered = new Schedule(0, { perMin: 600, burstSize: 1, jitterMs: 300 }, seededRandom(9));
    const at = Array.from({ length: 600 }, () => jittered.next()[0]!.at);
    expect(at).toEqual([...at].sort((a, b) => a - b)); // never before the one before it
    expect(at.every((t, i) => Math.abs(t - i * 100) <= 300 || t === at[i - 1])).toBe(true);
  });

  it('sends on schedule with a controlled clock, bounded by max events, scenarios by weight', async () => {
    const c = clock();
    const sent: SentRecord[] = [];
    const s = await generate({
      request: { url: 'http://127.0.0.1:9/x', method: 'POST', headers: {}, timeout: 1000 }, targets: ['http://a', 'http://b'], corpus,
      schedule: { perMin: 600, burstEveryMs: 60_000, burstSize: 5, jitterMs: 0 }, concurrency: 4, maxEvents: 1205, rand: seededRandom(7),
      now: c.now, sleep: c.sleep, sendFn: async () => ok(), onRecord: (r) => sent.push(r),
    });
    expect(s.sent).toBe(1205);
    expect(s.stoppedBy).toBe('max-events');
    expect(s.maxLateMs).toBe(0);
    expect(s.finishedAt - s.startedAt).toBe(119_900); // 1200 steady, one every 100 ms, plus one burst of 5 at 60 s
    expect(sent.filter((r) => r.burst).length).toBe(5);
    expect(new Set(sent.map((r) => r.target))).toEqual(new Set(['http://a', 'http://b']));
    expect(s.byScenario.normal! / 1205).toBeGreaterThan(0.64);
    expect(s.byScenario.normal! / 1205).toBeLessThan(0.76);
  });

  it('honours Retry-After on 429 (sending pauses), and keeps PII under its cap per minute', async () => {
    const c = clock(0);
    const times: number[] = [];
    let n = 0;
    await generate({
      request: { url: 'http://x', method: 'POST', headers: {}, timeout: 1000 }, targets: ['http://x'], corpus,
      schedule: { perMin: 60, burstSize: 1, jitterMs: 0 }, concurrency: 1, maxEvents: 6, rand: seededRandom(1),
      now: c.now, sleep: c.sleep, sendFn: async () => (times.push(c.now()), ++n === 2 ? ok(429, 5) : ok()),
    });
    // 0 s, 1 s (429, Retry-After 5 s): nothing before 6 s, then on schedule again
    expect(times).toEqual([0, 1000, 6000, 6000, 6000, 6000]);
    const picker = new Picker(Corpus.parse({ scenarios: { pii: { weight: 99, pii: true, requests: ['p'] }, normal: { weight: 1, requests: ['n'] } } }), seededRandom(3), 2);
    const picks = Array.from({ length: 10 }, (_, i) => picker.pick(i * 1000).scenario);
    expect(picks.filter((p) => p === 'pii').length).toBe(2);
    expect(picker.pick(61_000).scenario).toBe('pii');
  });

  it('refuses to run unbounded', async () => {
    await expect(generate({ request: { url: 'http://x', method: 'POST', headers: {}, timeout: 1 }, targets: ['http://x'], corpus, schedule: { perMin: 1, burstSize: 1, jitterMs: 0 }, concurrency: 1, rand: Math.random })).rejects.toThrow('never unbounded');
  });
});

describe('validation', () => {
  const set = QuestionSet.parse({
    categories: [
      { name: 'simple', expect: { status: 200, equals: { intent: 'simple' }, minItems: { visualizations: 3 }, latencyBudget: '1s' }, questions: ['q1', { message: 'q2', expect: { equals: { intent: 'other' } } }] },
      { name: 'edge', expect: { contains: ['response_text'] }, questions: ['q3'] },
    ],
  });

  it('checks status, field equality, list sizes, text and latency, and says what failed', () => {
    const body = (o: object) => JSON.stringify(o);
    expect(check(set.categories[0]!.expect, { ...ok(), body: body({ intent: 'simple', visualizations: [1, 2, 3] }) })).toEqual([]);
    expect(check(set.categories[0]!.expect, { ...ok(500), latencyMs: 1500, body: body({ intent: 'x', visualizations: [1] }) })).toEqual([
      'status 500, expected 200', 'intent is "x", expected "simple"', 'visualizations has 1 item(s), expected at least 3', 'answered in 1500 ms, over the 1000 ms budget',
    ]);
    expect(check({}, { status: null, latencyMs: 5, version: null, body: '', retryAfterS: null, error: 'connect ECONNREFUSED 127.0.0.1:9' })).toEqual(['no answer: connect ECONNREFUSED 127.0.0.1:9']);
  });

  it('runs every question, per category success, GO only when every criterion is met', async () => {
    const answers: Record<string, Sent> = {
      q1: { ...ok(), body: '{"intent":"simple","visualizations":[1,2,3],"response_text":"x"}' },
      q2: { ...ok(), body: '{"intent":"other","visualizations":[1,2,3]}' },
      q3: { ...ok(500), body: '{"error":"boom"}' },
    };
    const results = await runSuite(set, { request: { url: 'http://x', method: 'POST', headers: {}, timeout: 1000 }, url: 'http://x', concurrency: 2, sendFn: async (_u, m) => answers[m]! });
    expect(results.map((r) => [r.category, r.question, r.ok])).toEqual([['simple', 'q1', true], ['simple', 'q2', true], ['edge', 'q3', false]]);
    const v = judgeSuite(results, { minSuccessRate: 60, maxP95: 4000, no5xx: true });
    expect(v.decision).toBe('NO-GO');
    expect(v.criteria.map((c) => c.met)).toEqual([true, true, false]);
    expect(v.byCategory).toEqual([{ category: 'simple', total: 2, passed: 2, successRate: 100 }, { category: 'edge', total: 1, passed: 0, successRate: 0 }]);
    expect(judgeSuite(results.slice(0, 2), { minSuccessRate: 95, maxP95: 4000, no5xx: true }).decision).toBe('GO');
  });
});

describe('charts', () => {
  it('draws the metric and its thresholds as Mermaid xychart-beta lines', () => {
    expect(xyChart({ title: 'p95 over time', unit: 'ms', labels: ['10:00', '10:01'], values: [120, null], thresholds: [{ name: 'p95-latency max', value: 250 }] })).toEqual([
      '```mermaid',
      'xychart-beta',
      '  title "p95 over time (lines: p95-latency max 250 ms), no data drawn as 0"',
      '  x-axis ["10:00", "10:01"]',
      '  y-axis "ms" 0 --> 275',
      '  line [120, 0]',
      '  line [250, 250]',
      '```',
    ]);
  });
});
