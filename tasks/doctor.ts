/** npx tsx tasks/doctor.ts [--env NAME] — is this environment ready for cutover? */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { HOST_FILTER_OPTIONS } from './lib/cli/host-filter.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'doctor',
  summary: 'Check that an environment is ready for cutover: valid config, hosts reachable with known host keys, the commands cutover needs, the app working copy, the service units, the database. Changes nothing.',
  options: { env: COMMON_OPTIONS.env, ...HOST_FILTER_OPTIONS, json: COMMON_OPTIONS.json, help: COMMON_OPTIONS.help },
  examples: [
    'npx tsx tasks/doctor.ts                    # the built-in local environment (created on first use)',
    'npx tsx tasks/doctor.ts --env staging',
    'DEPLOY_ENV=production npx tsx tasks/doctor.ts --json',
    'npx tsx tasks/doctor.ts --env production --tag Role=api',
  ],
  notes: ['doctor exits 0 when every check passes (warnings allowed), 2 otherwise.'],
};

await main(spec, async () => (await import('./lib/doctor/run.ts')).doctor);
