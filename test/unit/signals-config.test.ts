// The signals section of an environment: cross-references and values checked, every problem named.
import { describe, expect, it } from 'vitest';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { formatIssues } from '../../tasks/lib/config/issues.ts';
import { SignalsConfig } from '../../tasks/lib/config/signals.ts';
import { listLogFiles, readLogBytes } from '../../tasks/lib/signals/sources/commands.ts';
import { withCohort } from '../../tasks/lib/signals/sources/prometheus.ts';
import local from '../../environments/local.ts';
import staging from '../../environments/staging.ts';
import production from '../../environments/production.ts';

const problems = (input: unknown) => {
  const r = SignalsConfig.safeParse(input);
  return r.success ? [] : formatIssues('environments/x.ts', r.error.issues.map((i) => ({ ...i, path: ['signals', ...i.path] })));
};

describe('SignalsConfig', () => {
  it('names every bad reference and value at its key', () => {
    expect(
      problems({
        sources: { app: { kind: 'jsonl', path: 'logs/p.jsonl' }, prom: { kind: 'prometheus', url: 'nope' } },
        metrics: {
          p95: { kind: 'quantile', source: 'nowhere', field: 'latency_ms', q: 0.95 },
          q: { kind: 'query', source: 'app', query: 'up' },
          s: { kind: 'share', source: 'app', field: 'route' },
        },
        gates: [
          { name: 'g', metric: 'p9', max: 1 },
          { name: 'g', metric: 's' },
          { name: 'r', metric: 's', range: [5, 1], test: { kind: 'mann-whitney' } },
        ],
      }),
    ).toEqual([
      'environments/x.ts: signals.sources.app.path: must be an absolute path (it may hold {date})',
      'environments/x.ts: signals.sources.prom.url: must be an http(s) URL',
      'environments/x.ts: signals.metrics.s: needs equals, in, matches or present',
      'environments/x.ts: signals.gates[1]: needs a threshold: one of max, min, range, maxIncreasePct, maxIncrease, withinPct (or under warn)',
      'environments/x.ts: signals.gates[2].range: must be [low, high] with low <= high, got [5, 1]',
      "environments/x.ts: signals.metrics.p95.source: 'nowhere' is not a source (sources: app, prom)",
      "environments/x.ts: signals.metrics.q.source: a query metric needs a prometheus source; 'app' is jsonl",
      "environments/x.ts: signals.gates[0].metric: 'p9' is not a metric (metrics: p95, q, s)",
      "environments/x.ts: signals.gates[1].name: duplicate gate name 'g'",
      'environments/x.ts: signals.gates[2].test.kind: mann-whitney does not apply to a share metric',
    ]);
    expect(
      problems({
        sources: { app: { kind: 'jsonl', path: '/l/p.jsonl' }, prom: { kind: 'prometheus', url: 'http://127.0.0.1:9090' } },
        metrics: { q: { kind: 'query', source: 'app', query: 'up' }, c: { kind: 'count', source: 'prom' }, s: { kind: 'share', source: 'app', field: 'route', equals: 'x' } },
        gates: [{ name: 'g', metric: 'p9', max: 1 }, { name: 'g', metric: 's', max: 1, test: { kind: 'mann-whitney' } }],
      }),
    ).toEqual([
      "environments/x.ts: signals.metrics.q.source: a query metric needs a prometheus source; 'app' is jsonl",
      "environments/x.ts: signals.metrics.c.source: a count metric reads records (a jsonl or nginx source); 'prom' is prometheus (use kind 'query')",
      "environments/x.ts: signals.gates[0].metric: 'p9' is not a metric (metrics: q, c, s)",
      "environments/x.ts: signals.gates[1].name: duplicate gate name 'g'",
      'environments/x.ts: signals.gates[1].test.kind: mann-whitney does not apply to a share metric',
    ]);
  });

  it('the shipped environments carry valid signals sections', () => {
    for (const env of [local, staging, production]) {
      const r = Environment.safeParse(env);
      expect(r.success ? [] : r.error.issues).toEqual([]);
      expect(r.success && r.data.signals?.gates.length).toBeGreaterThan(0);
    }
  });
});

describe('source commands (exact)', () => {
  it('lists daily files with their sizes and reads a byte range', () => {
    expect(listLogFiles('/srv/app/logs/predictions_{date}.jsonl').script).toBe(
      `for f in /srv/app/logs/predictions_[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].jsonl; do [ -f "$f" ] && printf '%s %s\\n' "$(stat -c %s -- "$f")" "\${f##*/}"; done; exit 0`,
    );
    expect(listLogFiles("/var/log/it's here/access.json").script).toBe(
      `for f in '/var/log/it'\\''s here'/access.json; do [ -f "$f" ] && printf '%s %s\\n' "$(stat -c %s -- "$f")" "\${f##*/}"; done; exit 0`,
    );
    expect(readLogBytes('/srv/app/logs/predictions_2026-12-01.jsonl', 100, 50).script).toBe('tail -c +101 -- /srv/app/logs/predictions_2026-12-01.jsonl | head -c 50');
  });

  it('lists and reads ahead in one command: a NUL byte, then the file from its offset', () => {
    expect(listLogFiles('/srv/app/logs/predictions_{date}.jsonl', { name: 'predictions_2026-12-01.jsonl', offset: 100, max: 4096 }).script).toBe(
      `for f in /srv/app/logs/predictions_[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].jsonl; do [ -f "$f" ] && printf '%s %s\\n' "$(stat -c %s -- "$f")" "\${f##*/}"; done; ` +
        `printf '\\0'; [ -f /srv/app/logs/predictions_2026-12-01.jsonl ] && [ "$(stat -c %s -- /srv/app/logs/predictions_2026-12-01.jsonl)" -gt 100 ] && ` +
        'tail -c +101 -- /srv/app/logs/predictions_2026-12-01.jsonl | head -c 4096; exit 0',
    );
    expect(listLogFiles("/var/log/it's here/access.json", { name: 'access.json', offset: 0, max: 10 }).script).toBe(
      `for f in '/var/log/it'\\''s here'/access.json; do [ -f "$f" ] && printf '%s %s\\n' "$(stat -c %s -- "$f")" "\${f##*/}"; done; ` +
        `printf '\\0'; [ -f '/var/log/it'\\''s here/access.json' ] && [ "$(stat -c %s -- '/var/log/it'\\''s here/access.json')" -gt 0 ] && ` +
        `tail -c +1 -- '/var/log/it'\\''s here/access.json' | head -c 10; exit 0`,
    );
  });

  it('puts a cohort into PromQL as an escaped alternation', () => {
    expect(withCohort('sum(rate(x{instance=~"{cohort}"}[5m]))', ['127.0.0.1:8001', 'a|b'])).toBe('sum(rate(x{instance=~"127\\\\.0\\\\.0\\\\.1:8001|a\\\\|b"}[5m]))');
    expect(withCohort('x{v=~"{cohort}"}', 'all')).toBe('x{v=~".*"}');
  });
});
