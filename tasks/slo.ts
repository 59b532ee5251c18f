/** npx tsx tasks/slo.ts [--env NAME] — the SLO monitor: the environment's gates over the last window. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'slo',
  summary:
    'The SLO monitor, read-only: the metrics of the environment\'s signals (request logs on the hosts, nginx logs, Prometheus) over the last ' +
    'window against its gates, each with its value, threshold, clock ("breached 6m12s of 15m") and why; GO / NO-GO / INCONCLUSIVE. ' +
    'With --watch it evaluates every interval and reads only what is new; with --checkpoints it fills the journal (H0, H+1, H+4, H+8, H+24).',
  options: {
    env: COMMON_OPTIONS.env,
    window: { type: 'string', value: 'DURATION', help: 'the window the metrics cover (default signals.window, e.g. 15m)' },
    since: { type: 'string', value: 'TIME', help: 'the window starts here instead: a time (2026-12-01T10:00:00Z) or a duration ago (2h)' },
    watch: { type: 'string', value: 'INTERVAL', help: 'evaluate every INTERVAL (e.g. 1m, 5m) until Ctrl-C, --rounds or the last checkpoint' },
    rounds: { type: 'string', value: 'N', help: 'with --watch: stop after N rounds' },
    checkpoints: { type: 'string', value: 'LIST', help: 'fill the journal at H0 and these times after it (e.g. 1h,4h,8h,24h); implies watching every signals.interval' },
    journal: { type: 'boolean', help: '--checkpoints with signals.slo.checkpoints (default 1h,4h,8h,24h)' },
    cohort: { type: 'string', value: 'NAME', help: 'judge this cohort of signals.cohorts (default: every record as one cohort, "all")' },
    baseline: { type: 'string', value: 'NAME', help: 'compare --cohort with this cohort (relative gates: +50% errors, +500 ms P95)' },
    file: { type: 'string', value: 'FILE.jsonl', help: 'judge a recorded request log instead of the sources, ticking every interval of its own time' },
    json: { type: 'boolean', help: 'print the result as JSON on stdout (with --watch: one line per round)' },
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/slo.ts                                   # the local sandbox, last 15 minutes',
    'npx tsx tasks/slo.ts --window 5m --json',
    'npx tsx tasks/slo.ts --watch 5m --checkpoints 1h,4h,8h,24h   # the seed\'s 24 h journal, filled by itself',
    'npx tsx tasks/slo.ts --env production --cohort canary --baseline stable',
    'npx tsx tasks/slo.ts --file backups/local/traffic/recorded.jsonl --watch 1m',
  ],
  notes: [
    'slo changes nothing. Its exit codes: 0 GO (gates pass; warnings are named); 1 NO-GO (a gate failed);',
    '2 INCONCLUSIVE (too little data, or a source unavailable under onUnavailable: inconclusive), and for bad flags or config.',
    'Each run writes a JSON and a Markdown report (charts over time, the journal) under backups/<env>/reports/.',
  ],
};

await main(spec, async () => (await import('./lib/slo/run.ts')).sloTask);
