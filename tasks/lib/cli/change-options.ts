import { COMMON_OPTIONS, type OptionSpec } from './args.ts';

import { HOST_FILTER_OPTIONS } from './host-filter.ts';

/** Flags of every task that changes hosts. */
export const CHANGE_OPTIONS = {
  env: COMMON_OPTIONS.env,
  'dry-run': { type: 'boolean', help: 'show the plan and every command that would run; change nothing (exit 0)' },
  yes: { type: 'boolean', short: 'y', help: 'do not ask for confirmation (needed without a terminal where the environment asks)' },
  'force-unlock': { type: 'string', value: 'REASON', help: 'take the deploy lock from a dead or stale run; the reason is recorded in the history' },
  renderer: { type: 'string', value: 'NAME', help: 'default (interactive) or simple (one line per event); default: interactive on a terminal, simple otherwise' },
} as const satisfies Record<string, OptionSpec>;

/** deploy and rollback: only some hosts (the kernel applies the filter; the history records the hosts touched). */
export const MOVE_OPTIONS = { ...CHANGE_OPTIONS, ...HOST_FILTER_OPTIONS } as const satisfies Record<string, OptionSpec>;

/** The value `rollback --restore-db` alone stands for: the backup taken before the deploy being undone. */
export const RESTORE_DEFAULT = '@default';
