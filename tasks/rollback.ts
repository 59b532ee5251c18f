/** npx tsx tasks/rollback.ts [tag] — back to a tag verified live before; optionally restore the database. */
import { COMMON_OPTIONS, type TaskSpec } from './lib/cli/args.ts';
import { MOVE_OPTIONS, RESTORE_DEFAULT } from './lib/cli/change-options.ts';
import { main } from './lib/cli/main.ts';

const spec: TaskSpec = {
  name: 'rollback',
  summary:
    'Roll back to a tag that was deployed and verified before (default: the previous one in the host\'s history), with the same lock, ' +
    'restart and verification as a deploy. Code only unless --restore-db: migrations applied since are NOT undone by a code-only rollback. ' +
    'With the releases strategy, current is switched back to the old release folder without reinstalling.',
  positionals: [{ name: 'tag', help: 'the tag to go back to (default: the previous successfully deployed tag)', optional: true }],
  options: {
    ...MOVE_OPTIONS,
    'restore-db': {
      type: 'string',
      value: '[BACKUP]',
      help: 'also restore the database (after a fresh safety backup): from BACKUP (a .dump/.sql file), or alone: the backup taken before the deploy being undone',
    },
    force: { type: 'boolean', help: 'allow a tag that never deployed successfully here' },
    json: COMMON_OPTIONS.json,
    help: COMMON_OPTIONS.help,
  },
  examples: [
    'npx tsx tasks/rollback.ts                           # the previous tag, code only',
    'npx tsx tasks/rollback.ts v1.0.0 --restore-db        # and the data as it was before the deploy being undone',
    'npx tsx tasks/rollback.ts --env production --restore-db backups/production/20261121T211500Z_v3.2.6_to_v3.2.7.dump',
    'npx tsx tasks/rollback.ts --env staging --dry-run',
  ],
};

/** `--restore-db` may stand alone: give it its default value unless a dump file follows. */
function restoreDbArgv(argv: string[]): string[] {
  return argv.flatMap((a, i) => {
    if (a !== '--restore-db') return [a];
    const next = argv[i + 1];
    return next !== undefined && /\.(dump|sql)$/.test(next) ? [a] : [`--restore-db=${RESTORE_DEFAULT}`];
  });
}

await main(
  spec,
  async () => {
    const [{ runChanging }, { rollbackTask }] = await Promise.all([import('./lib/kernel/run.ts'), import('./lib/deploy/targets.ts')]);
    return (args) => runChanging(args, rollbackTask);
  },
  restoreDbArgv(process.argv.slice(2)),
);
