/** npx tsx tasks/traffic.ts [--env NAME] — the traffic generator: weighted scenarios from a corpus, at a rate, with bursts. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'traffic',
  summary:
    'Sends realistic traffic to the environment (signals.traffic): a weighted mix of scenarios from a corpus file (normal, borderline, PII, edge; ' +
    'French and English), at a steady rate with jitter and bursts, at most N requests in flight, Retry-After honoured on 429. Bounded by ' +
    '--max-events (default 200, the seed\'s smoke run) or --duration (at most 24h). Writes what it sent as JSONL (time, scenario, status, latency, ' +
    'served version) and a summary report; a progress line on stderr; Ctrl-C stops it with the summary.',
  options: {
    env: COMMON_OPTIONS.env,
    rate: { type: 'string', value: 'RATE', help: 'steady rate: 20/min, 5/s, 600/h (default signals.traffic.rate)' },
    'burst-every': { type: 'string', value: 'DURATION', help: 'a burst every DURATION (e.g. 120s)' },
    'burst-size': { type: 'string', value: 'N', help: 'requests per burst (default 5)' },
    jitter: { type: 'string', value: 'DURATION', help: 'move each steady request by up to ±DURATION (e.g. 300ms)' },
    'pii-max-per-min': { type: 'string', value: 'N', help: 'at most N requests of PII scenarios per minute' },
    'max-events': { type: 'string', value: 'N', help: 'stop after N requests (default 200 when --duration is not given)' },
    duration: { type: 'string', value: 'DURATION', help: 'stop after DURATION (e.g. 10m; at most 24h)' },
    concurrency: { type: 'string', value: 'N', help: 'at most N requests in flight (default signals.traffic.concurrency)' },
    corpus: { type: 'string', value: 'FILE', help: 'corpus file (YAML or JSON) instead of signals.traffic.corpus' },
    target: { type: 'string', value: 'URL', help: 'send here (e.g. the load balancer) instead of signals.traffic.request.url' },
    'each-host': { type: 'boolean', help: 'send to every host in turn (the request URL with {host})' },
    seed: { type: 'string', value: 'N', help: 'random seed: the same seed picks the same scenarios and jitter' },
    json: { type: 'boolean', help: 'print the summary as JSON on stdout' },
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/traffic.ts                                  # 200 events at 20/min to the local sandbox',
    'npx tsx tasks/traffic.ts --rate 20/min --burst-every 120s --burst-size 5 --jitter 300ms --pii-max-per-min 2 --duration 24h',
    'npx tsx tasks/traffic.ts --rate 600/min --max-events 1200 --json',
    'npx tsx tasks/traffic.ts --env staging --each-host --duration 10m',
  ],
  notes: ['Exit codes: 0 done (whatever the answers were: judge them with tasks/slo.ts); 2 bad flags or config; 130 stopped by Ctrl-C.'],
};

await main(spec, async () => (await import('./lib/traffic/run.ts')).trafficTask);
