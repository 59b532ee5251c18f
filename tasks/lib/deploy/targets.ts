/** What each changing task moves the hosts to, and how. */
import { flag, str } from '../cli/args.ts';
import { RESTORE_DEFAULT } from '../cli/change-options.ts';
import type { ChangingTask } from './entry.ts';
import { deployProcedure } from './deploy.ts';
import { chooseRollback, rollbackProcedure } from './rollback.ts';
import { validateTag } from './tag.ts';

export const deployTask: ChangingTask = {
  kind: 'deploy',
  target: async (_env, _hosts, args) => ({ tag: validateTag(args.positionals[0]!), procedure: deployProcedure }),
};

export const rollbackTask: ChangingTask = {
  kind: 'rollback',
  target: async (env, hosts, args) => {
    const restore = str(args, 'restore-db');
    const choice = await chooseRollback(env, hosts[0]!, {
      tag: args.positionals[0],
      force: flag(args, 'force'),
      restoreDb: restore === undefined ? undefined : restore === RESTORE_DEFAULT ? true : restore,
    });
    return { tag: choice.tag, procedure: rollbackProcedure(choice.restoreFrom) };
  },
};
