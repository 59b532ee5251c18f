/** deploy and rollback as changing tasks of the kernel: their flags, context and procedure. */
import { UsageError } from '../base/errors.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { RESTORE_DEFAULT } from '../cli/change-options.ts';
import type { ChangingTask } from '../kernel/run.ts';
import type { KernelCtx, RunHosts } from '../kernel/procedure.ts';
import type { RunCtx, RunFlags } from './context.ts';
import { validateTag } from './tag.ts';

export function runFlags(args: ParsedArgs): RunFlags {
  const skipBackup = str(args, 'skip-backup');
  if (skipBackup !== undefined && !skipBackup.trim()) throw new UsageError(`--skip-backup needs a reason, recorded in the history: --skip-backup "schema-only change, backup taken at 14:02"`);
  return { yes: flag(args, 'yes'), noRollback: flag(args, 'no-rollback'), ...(skipBackup ? { skipBackup } : {}) };
}

function runCtx(base: KernelCtx, hosts: RunHosts, task: 'deploy' | 'rollback', tag: string, args: ParsedArgs): RunCtx {
  return {
    ...base,
    task,
    tag,
    flags: runFlags(args),
    hosts: hosts.selected.map(({ host, runner }) => ({ host, runner, from: { commit: '' }, stage: 'untouched', checks: [] })),
    filtered: hosts.selected.length < hosts.all.length,
    ssmCommands: [],
  };
}

export const deployTask: ChangingTask<RunCtx> = {
  task: 'deploy',
  build: async (args, base, hosts) => {
    const ctx = runCtx(base, hosts, 'deploy', validateTag(args.positionals[0]!), args);
    return { procedure: (await import('./deploy.ts')).deployProcedure, ctx }; // the procedure loads here: after --help and flag errors
  },
};

export const rollbackTask: ChangingTask<RunCtx> = {
  task: 'rollback',
  build: async (args, base, hosts) => {
    const restore = str(args, 'restore-db');
    const { rollbackProcedure } = await import('./rollback.ts');
    const procedure = rollbackProcedure({
      ...(args.positionals[0] !== undefined ? { tag: args.positionals[0] } : {}),
      force: flag(args, 'force'),
      ...(restore === undefined ? {} : { restoreDb: restore === RESTORE_DEFAULT ? true : restore }),
    });
    // the tag comes from the history, read in preflight
    return { procedure, ctx: runCtx(base, hosts, 'rollback', '', args) };
  },
};
