/**
 * Redaction stays linear: a 256 KB input of `"` followed by a run of words starting with
 * `password` (a pattern with two unbounded quantifiers took 12-25 s on it) must take
 * milliseconds, like a normal 256 KB log. Baseline: one plain String.replace pass over the same
 * input, in the same run.
 */
import { redactText } from '../tasks/lib/reports/redact.ts';
import { median, table, type Row, type Verdict } from './stats.ts';

const SIZE = 256 * 1024;

/** A log as cutover streams it: requests, journal lines, a few emails, URLs, tokens and assignments. */
export function normalLog(size = SIZE): string {
  const lines = [
    '2026-11-21T21:15:00.123Z INFO  GET /api/v1/health 200 3.1 ms host=10.0.1.12 version=v3.2.7',
    '2026-11-21T21:15:00.456Z INFO  POST /api/v1/conversation/chat 200 812 ms user_id=42 tokens=512',
    '<3>Nov 21 21:15:01 web-1 conversation-service[4242]: Traceback (most recent call last):',
    '2026-11-21T21:15:02.000Z WARN  retrying postgres://app:hunter2@db.internal:5432/prod (attempt 2)',
    '2026-11-21T21:15:02.100Z INFO  mail sent to marie.dupont@exemple.fr, callback +33 6 12 34 56 78',
    'Collecting fastapi==0.115.0 (from -r requirements.txt (line 3)) Using cached fastapi-0.115.0-py3-none-any.whl',
    '2026-11-21T21:15:03.000Z DEBUG Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N',
    'commit 0123456789abcdef0123456789abcdef01234567 sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  ];
  let out = '';
  for (let i = 0; out.length < size; i++) out += `${lines[i % lines.length]}\n`;
  return out.slice(0, size);
}

export const adversarial = (size = SIZE) => `"${'password'.repeat(Math.ceil(size / 8))}`.slice(0, size);
export const adversarialWords = (size = SIZE) => `"${'passwordx-'.repeat(Math.ceil(size / 10))}`.slice(0, size);

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export function benchRedact(runs = 15): { text: string; verdicts: Verdict[] } {
  const inputs = { adversarial: adversarial(), words: adversarialWords(), log: normalLog() };
  const cases: Array<[string, () => unknown]> = [
    ['String.replace, one pass over 256 KB (baseline)', () => inputs.log.replace(/password/g, 'x')],
    ['redactText: `"` + "password" x 32K (256 KB)', () => redactText(inputs.adversarial, ['s3cret-value'])],
    ['redactText: `"` + "passwordx-" x 26K (256 KB)', () => redactText(inputs.words, ['s3cret-value'])],
    ['redactText: a normal 256 KB log', () => redactText(inputs.log, ['s3cret-value'])],
  ];
  for (const [, fn] of cases) fn(); // warm up the regular expressions
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) cases.forEach(([, fn], k) => samples[k]!.push(time(fn))); // interleaved
  const rows: Row[] = cases.map(([name], k) => ({ name, median: median(samples[k]!), samples: runs }));
  const worst = Math.max(rows[1]!.median, rows[2]!.median);
  const log = rows[3]!.median;
  return {
    text: table('redaction of 256 KB (in-process)', rows, (v) => `${v.toFixed(2)} ms`),
    verdicts: [
      { target: 'adversarial 256 KB redacted in < 100 ms (median)', ok: worst < 100, measured: `${worst.toFixed(1)} ms` },
      { target: 'adversarial input <= 3x a normal log of the same size', ok: worst <= 3 * log, measured: `${(worst / log).toFixed(2)}x (${log.toFixed(1)} ms for the log)` },
    ],
  };
}
