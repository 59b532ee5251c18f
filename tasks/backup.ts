/** npx tsx tasks/backup.ts list|create|verify|prune — the database backups of an environment. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { CHANGE_OPTIONS } from './lib/cli/change-options.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'backup',
  summary:
    'The database backups of an environment, kept on this machine (backups.dir, default backups/<env>/) with a manifest each. ' +
    'list: newest first, with size, age, tags, row counts and when each was last verified; protected dumps marked * with the reason. ' +
    'create: a backup now, the same way deploy takes one (pg_dump where database.dumpOn says), verified. ' +
    'verify: read a dump completely again and check its sha256 against the manifest (the result is recorded in the manifest). ' +
    'prune: keep the newest backups.keep, and never a protected dump: the pre-deploy dump of every deployment rollback can still step back ' +
    'over (read from the history on the first host), the newest verified one whose file is there. A manifest whose dump is missing is removed, ' +
    'unless rollback still needs that dump.',
  positionals: [
    { name: 'action', help: 'list | create | verify | prune' },
    { name: 'backup', help: 'verify only: the dump to verify (a path, or a file name in the backup folder); default the newest', optional: true },
  ],
  options: {
    env: COMMON_OPTIONS.env,
    all: { type: 'boolean', help: 'verify: every backup, not only the newest' },
    'dry-run': { type: 'boolean', help: 'create: the plan and the commands that would run; prune: what would be removed. Nothing changes' },
    'force-unlock': { ...CHANGE_OPTIONS['force-unlock'], help: 'create: take the deploy lock from a dead or stale run; the reason is recorded in the history' },
    renderer: CHANGE_OPTIONS.renderer,
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/backup.ts list --env production',
    'npx tsx tasks/backup.ts create --env staging',
    'npx tsx tasks/backup.ts verify --all --env production',
    'npx tsx tasks/backup.ts verify 20261121T211500Z_v3.2.6_to_v3.2.7.dump --env production',
    'npx tsx tasks/backup.ts prune --dry-run --env production',
  ],
  notes: [
    'Here: list and prune exit 0; create exits 0 with a verified backup, 2 when none could be taken; verify exits 0 when every',
    'dump checked is intact, 1 when one is not (the manifest records it: restore and prune treat it as unverified), 2 on bad input.',
    'create runs like every changing task: it takes the deploy lock (refused, exit 2, while a deploy or canary holds it), records the',
    'run in the history, and prunes only after the dump verified. list and prune read the history on the state host (prune refuses,',
    'exit 2, when it cannot); nothing here changes a host.',
  ],
};

await main(spec, async () => {
  const [{ backupTask, checkArgs }, { runChanging }, { createTask }] = await Promise.all([
    import('./lib/backup-task/run.ts'),
    import('./lib/kernel/run.ts'),
    import('./lib/backup-task/create.ts'),
  ]);
  return (args) => (checkArgs(args) === 'create' ? runChanging(args, createTask) : backupTask(args));
});
