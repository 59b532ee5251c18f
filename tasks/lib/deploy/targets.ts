/** What each changing task moves the hosts to, and how. */
import type { ChangingTask } from './entry.ts';
import { deployProcedure } from './deploy.ts';
import { validateTag } from './tag.ts';

export const deployTask: ChangingTask = {
  kind: 'deploy',
  target: async (_env, _hosts, args) => validateTag(args.positionals[0]!),
  procedure: () => deployProcedure,
};
