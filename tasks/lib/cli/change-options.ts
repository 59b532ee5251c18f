import { COMMON_OPTIONS, type OptionSpec } from './args.ts';

/**
 * --hosts and --tag for deploy and rollback: spread into CHANGE_OPTIONS in the same change that
 * applies them (filterHosts on the kernel's host list), never before: a flag that parses but is
 * ignored would deploy to every host.
 */
export { filterHosts, hostFilterFrom, HOST_FILTER_OPTIONS, type HostFilter } from './host-filter.ts';

/** Flags of every task that changes hosts. */
export const CHANGE_OPTIONS = {
  env: COMMON_OPTIONS.env,
  'dry-run': { type: 'boolean', help: 'show the plan and every command that would run; change nothing (exit 0)' },
  yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation (needed without a terminal where the environment asks)' },
  'force-unlock': { type: 'string', value: 'REASON', help: 'take the deploy lock from a dead or stale run; the reason is recorded in the history' },
  renderer: { type: 'string', value: 'NAME', help: 'default (interactive) or simple (one line per event); default: interactive on a terminal, simple otherwise' },
} as const satisfies Record<string, OptionSpec>;

/** The value `rollback --restore-db` alone stands for: the backup taken before the deploy being undone. */
export const RESTORE_DEFAULT = '@default';
