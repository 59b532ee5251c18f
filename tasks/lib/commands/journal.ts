import { command, sh, type Command } from './shell.ts';

const EPOCH = /^\d+(?:\.\d+)?$/;

export interface JournalSinceOptions {
  /** At most the last this many entries (bounds the output). */
  readonly lines: number;
  /** Prefix with `sudo -n` (reading the system journal may need it). */
  readonly sudo?: boolean;
  /**
   * Also say, first and in the same command, the state of these units: one line,
   * `\x1estates <state of each unit, in order>` (the end of a deploy's verification).
   */
  readonly states?: readonly string[];
}

export const journal = {
  /**
   * The HOST's clock as epoch seconds with fraction (`1712345678.123456789`): `--since` is read by
   * the host's clock, not ours; with units, then each unit's main process id (0: none), one per line.
   */
  hostNow: (units: readonly string[] = []): Command =>
    command(units.length ? sh`date +%s.%N && systemctl show -p MainPID --value -- ${units}` : sh`date +%s.%N`, { readOnly: true }),

  /**
   * Entries of these units since an epoch (seconds, fraction allowed), as JSON lines, messages in
   * full (-a). No -p: priorities are filtered by the scan so fail patterns match at any priority.
   */
  since: (units: readonly string[], sinceEpoch: string | number, opts: JournalSinceOptions): Command => {
    if (!units.length) throw new Error('journal.since needs at least one unit (without -u journalctl reads every unit)');
    const epoch = typeof sinceEpoch === 'number' ? sinceEpoch.toFixed(6) : sinceEpoch;
    if (!EPOCH.test(epoch)) throw new Error(`journal.since: not epoch seconds: ${JSON.stringify(sinceEpoch)}`);
    if (!Number.isInteger(opts.lines) || opts.lines < 1) throw new Error(`journal.since: lines must be a positive integer, got ${opts.lines}`);
    const unitArgs = units.flatMap((u) => ['-u', u]);
    const prefix = opts.sudo ? sh`sudo -n ` : sh``;
    const states = opts.states?.length ? sh`printf '\\036states %s\\n' "$(echo $(systemctl is-active -- ${opts.states}))"\n` : sh``;
    return command(sh`${states}${prefix}journalctl ${unitArgs} --since ${`@${epoch}`} -o json --no-pager -q -a -n ${opts.lines}`, { readOnly: true });
  },
};

/** The epoch printed by `journal.hostNow()`, checked (a `date` without %N support prints `%N`). */
export function parseHostNow(stdout: string): string {
  const t = stdout.trim();
  if (!EPOCH.test(t)) throw new Error(`the host's clock answered ${JSON.stringify(t.slice(0, 80))}, not epoch seconds`);
  return t;
}
