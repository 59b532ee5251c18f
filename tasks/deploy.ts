/** npx tsx tasks/deploy.ts <tag> — backup, release, install, migrate, restart, verify, record. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { MOVE_OPTIONS } from './lib/cli/change-options.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'deploy',
  summary:
    'Deploy a release tag: preflight (read-only), confirmation where the environment asks for it, lock, verified database backup, ' +
    'check out (or new release folder), install, migrate, restart, verify (health, version, readiness, test chat, journal), record. ' +
    'A failure after something live changed rolls back to the previous tag automatically and verifies it.',
  positionals: [{ name: 'tag', help: 'the git tag to deploy, e.g. v3.2.7 (it must exist on the remote)' }],
  options: {
    ...MOVE_OPTIONS,
    'skip-backup': { type: 'string', value: 'REASON', help: 'deploy without a database backup; the reason is recorded in the history' },
    'no-rollback': { type: 'boolean', help: 'on failure, stop and leave the hosts as they are (exit 3) instead of rolling back' },
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/deploy.ts v1.1.0                      # the built-in local sandbox',
    'npx tsx tasks/deploy.ts v1.2.0                      # deliberately broken: rolled back automatically, exit 1',
    'npx tsx tasks/deploy.ts v3.2.7 --env staging --dry-run',
    'npx tsx tasks/deploy.ts v3.2.7 --env production      # asks you to type "production"',
    'npx tsx tasks/deploy.ts v3.2.7 --env staging --yes --json > deploy.json',
  ],
};

await main(spec, async () => {
  const [{ runChanging }, { deployTask }] = await Promise.all([import('./lib/kernel/run.ts'), import('./lib/deploy/targets.ts')]);
  return (args) => runChanging(args, deployTask);
});
