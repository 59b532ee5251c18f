/** npx tsx tasks/restore.ts <backup> — put a database back as a backup has it, after a safety backup. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { CHANGE_OPTIONS } from './lib/cli/change-options.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'restore',
  summary:
    'Replace the database of an environment with a backup: the dump is read completely and checked against its manifest first; ' +
    'you see what will be replaced (database, host, the backup\'s date, tags and row counts next to the current ones) and type the ' +
    'database name; then, under the deploy lock, a safety backup of the database as it is, the restore in one transaction ' +
    '(all or nothing), and the row counts compared with the backup\'s. The code on the hosts is not changed.',
  positionals: [{ name: 'backup', help: 'the dump to restore: a path to a .dump/.sql file (its .json manifest beside it), or a file name in the backup folder' }],
  options: {
    env: COMMON_OPTIONS.env,
    yes: { type: 'boolean', help: 'do not ask for the database name (needed when there is no terminal)' },
    'dry-run': CHANGE_OPTIONS['dry-run'],
    'force-unlock': CHANGE_OPTIONS['force-unlock'],
    renderer: CHANGE_OPTIONS.renderer,
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/backup.ts list --env staging                # which backups there are',
    'npx tsx tasks/restore.ts 20261121T211500Z_v3.2.6_to_v3.2.7.dump --env staging',
    'npx tsx tasks/restore.ts 20261121T211500Z_v3.2.6_to_v3.2.7.dump --env staging --dry-run   # the checks, the plan, what would run',
    'npx tsx tasks/restore.ts backups/production/20261121T211500Z_v3.2.6_to_v3.2.7.dump --env production --yes --json',
  ],
  notes: [
    'Here: 0 restored and the row counts equal the backup\'s; 1 the restore failed and the database was left as it was (checked:',
    'its row counts equal the safety backup\'s); 2 refused before anything changed (bad backup, no terminal and no --yes, lock held);',
    '3 the database state is uncertain, or it was restored but its counts differ (the output names the safety backup to put back);',
    '130 interrupted (the lock is released and the state of the database is said).',
    'Every restore leaves history records (task restore), a report in backups/<env>/reports/, and the safety backup.',
  ],
};

await main(spec, async () => {
  const [{ runChanging }, { restoreTask }] = await Promise.all([import('./lib/kernel/run.ts'), import('./lib/restore/procedure.ts')]);
  return (args) => runChanging(args, restoreTask);
});
