/** npx tsx tasks/validate.ts [--env NAME] — the release validation suite: real questions, success rate, latency, GO / NO-GO. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'validate',
  summary:
    'The release validation suite (signals.validation): a question set by category with expectations (status, a field equals, a list has at ' +
    'least N items, text contains, latency budget), sent with a concurrency cap; success rate overall and per category, P50/P95/P99, GO / NO-GO ' +
    'against the criteria (default: success >= 95%, P95 <= 4 s, no 500), a JSON and a Markdown report in the seed\'s shape.',
  options: {
    env: COMMON_OPTIONS.env,
    questions: { type: 'string', value: 'FILE', help: 'question set (YAML or JSON) instead of signals.validation.questions' },
    host: { type: 'string', value: 'NAME', help: 'ask this host (the request URL with {host}); default: the configured URL, or the first host' },
    concurrency: { type: 'string', value: 'N', help: 'questions in flight at once (default signals.validation.concurrency)' },
    json: { type: 'boolean', help: 'print the result as JSON on stdout' },
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/validate.ts                         # the local sandbox, sandbox/signals/questions.yaml',
    'npx tsx tasks/validate.ts --env staging --host staging-1 --json',
    'npx tsx tasks/validate.ts --questions my-questions.yaml --concurrency 1',
  ],
  notes: ['validate changes nothing. Exit codes: 0 GO; 1 NO-GO (the criteria not met are named); 2 bad flags, config or question file.'],
};

await main(spec, async () => (await import('./lib/validate/run.ts')).validateTask);
