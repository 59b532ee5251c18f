/** npx tsx tasks/sandbox.ts status|stop|reset — a sandbox of this clone (local, or the local-canary fleet): what runs, stop it, start afresh. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'sandbox',
  summary:
    'The local sandbox of this clone (the folder .sandbox/: the demo service, the journal writer that runs it, a PostgreSQL server), ' +
    'created by the first command that uses the local environment and left running after it; with --env local-canary, the canary ' +
    'fleet (.sandbox-canary/: three hosts running the demo service, nginx in front, a database on the local sandbox\'s PostgreSQL). ' +
    'status: what runs, with pids, ports, health, release and folder. ' +
    'stop: stops every process of this sandbox by pid and checks each one is gone (the next command starts it again, as it was). ' +
    'reset: stop, then delete the folder: the next command creates it afresh at v1.0.0.',
  positionals: [{ name: 'action', help: 'status | stop | reset (default: status)', optional: true }],
  options: {
    env: COMMON_OPTIONS.env,
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/sandbox.ts status',
    'npx tsx tasks/sandbox.ts status --json',
    'npx tsx tasks/sandbox.ts stop',
    'npx tsx tasks/sandbox.ts reset',
    'npx tsx tasks/sandbox.ts status --env local-canary   # the canary fleet: three hosts and nginx',
    'npx tsx tasks/sandbox.ts stop --env local-canary',
    'CUTOVER_SANDBOX_APP_PORT=18011 CUTOVER_SANDBOX_PG_PORT=54339 npx tsx tasks/deploy.ts v1.1.0   # a second clone beside the first',
  ],
  notes: [
    'Here: status exits 0; stop and reset exit 0 when every process is gone (checked by pid), 3 when one still runs (named, with its',
    'pid; reset then deletes nothing), 2 when a cutover run holds the sandbox\'s lock (it would be cut off) or the environment has no sandbox.',
    'Only the processes this sandbox recorded are touched (pid files and start times, the server of its own data folder): never',
    'another clone\'s. Deleting a clone without `stop` leaves its processes running: the next clone that needs the same ports names',
    'the folder and the pids to stop. The canary fleet\'s PostgreSQL is the local sandbox\'s: `stop --env local-canary` leaves it',
    'running (plain `stop` stops it); nginx is stopped by its pid file.',
  ],
};

await main(spec, async () => (await import('./lib/sandbox/cli.ts')).sandboxTask);
