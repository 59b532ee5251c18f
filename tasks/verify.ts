/** npx tsx tasks/verify.ts [--env NAME] — on-call: is it healthy right now, and if not, what is wrong? */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { HOST_FILTER_OPTIONS } from './lib/cli/host-filter.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'verify',
  summary:
    'Verify an environment now, read-only and safe at any time: per host (in parallel) services active and since when, the deployed tag against ' +
    'the version health reports, health, readiness and its dependencies, the test chat, latency P50/P95/P99 against the budgets, the journal ' +
    'since the last deploy, disk space, the deploy lock; on this machine the age of the newest backup. Opt-in hardening probes (verify.hardening): ' +
    'an oversized message answered 413, a bounded burst answered 429, readiness naming its dependencies. A table per host and a GO / NO-GO verdict.',
  options: {
    env: COMMON_OPTIONS.env,
    ...HOST_FILTER_OPTIONS,
    host: { type: 'string', value: 'NAME', multiple: true, help: 'the same as --hosts NAME (repeatable)' },
    check: {
      type: 'string',
      value: 'NAME',
      multiple: true,
      help: 'run only this check (repeatable, or comma-separated): service, version, health, readiness, chat, latency, journal, disk, backup, lock, oversized-body, rate-limit, readiness-deps',
    },
    since: { type: 'string', value: 'DURATION', help: 'journal window: the last DURATION (e.g. 30m) instead of since the last deploy' },
    watch: { type: 'string', value: 'INTERVAL', help: 'repeat every INTERVAL (e.g. 5m, at least 1s) and print what changed; Ctrl-C stops' },
    rounds: { type: 'string', value: 'N', help: 'with --watch: stop after N rounds (default: until Ctrl-C)' },
    renderer: { type: 'string', value: 'NAME', help: 'progress: default (interactive) or simple (one line per event); default: interactive on a terminal, simple otherwise' },
    json: { type: 'boolean', help: 'print the result as JSON on stdout (with --watch: one JSON line per round); progress goes to stderr' },
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/verify.ts                              # the built-in local sandbox',
    'npx tsx tasks/verify.ts --env production --since 30m',
    'npx tsx tasks/verify.ts --env production --watch 5m  # the post-deploy watch: changes only',
    'npx tsx tasks/verify.ts --env staging --hosts web-2 --check health,journal --json',
    'npx tsx tasks/verify.ts --env production --tag Role=api',
  ],
  notes: [
    'verify changes nothing. Its exit codes: 0 GO (every check ok); 1 NO-GO: a check failed or warned (they are named);',
    '2 cannot verify (bad flags or config, a host unreachable or its host key refused); 130 interrupted before any round finished.',
    '--watch ends with the exit code of its last complete round, also when stopped by Ctrl-C.',
    'Each run writes a JSON and a Markdown report under backups/<env>/reports/ (with --watch: the first round, every round that changed, the last).',
  ],
};

await main(spec, async () => (await import('./lib/verify/run.ts')).verifyTask);
