/** npx tsx tasks/status.ts [--env NAME] — what is deployed where, and what happened last. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { HOST_FILTER_OPTIONS } from './lib/cli/host-filter.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'status',
  summary:
    'Show what is deployed where, read-only: per host the deployed tag, kept releases, services, health (one short GET) and the deploy lock; ' +
    'from the history the live tag, what rollback goes back to, and the last deployments (who, when, from -> to, duration, result, backup); ' +
    'the newest backup on this machine and its age.',
  options: {
    env: COMMON_OPTIONS.env,
    ...HOST_FILTER_OPTIONS,
    last: { type: 'string', value: 'N', help: 'how many deployments to list, newest first (default 10)' },
    json: { type: 'boolean', help: 'print the status as JSON on stdout' },
    help: COMMON_OPTIONS.help,
  },
  examples: ['npx tsx tasks/status.ts', 'npx tsx tasks/status.ts --env production --last 20', 'npx tsx tasks/status.ts --env staging --json', 'npx tsx tasks/status.ts --env production --hosts web-1,web-2'],
  notes: ['status changes nothing. It exits 0 when it could read every host, 2 when a host is unreachable (or on bad flags or config).'],
};

await main(spec, async () => (await import('./lib/status/run.ts')).statusTask);
