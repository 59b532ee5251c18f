/** Read-only commands that say what a host runs (builders: pure, tested by exact comparison). */
import { command, sh, type Command } from './shell.ts';

/** Properties read per unit; systemd prints nothing for one it does not know (NRestarts before 235). */
export const SHOW_PROPERTIES = ['Id', 'LoadState', 'ActiveState', 'SubState', 'ActiveEnterTimestamp', 'NRestarts'] as const;

export const hostReads = {
  /** One `Key=value` block per unit, in the order given. Needs no sudo. */
  serviceShow: (units: readonly string[]): Command => command(sh`systemctl show -p ${SHOW_PROPERTIES.join(',')} -- ${units}`, { readOnly: true }),

  /**
   * In one round trip: `commit=<sha>`, `tag=<exact tag or empty>`, with a `current` link
   * `release=<folder it points to>`, and with `dirty` one `dirty=<path>` line per tracked file
   * changed by hand. Exit 1 (and git's message) when the folder is not a working copy.
   */
  deployed: (workTree: string, o: { currentLink?: string; dirty?: boolean } = {}): Command =>
    command(
      sh`d=${workTree}
c=$(git -C "$d" rev-parse --verify --end-of-options HEAD) || exit 1
t=$(git -C "$d" describe --tags --exact-match --end-of-options HEAD 2>/dev/null)
printf 'commit=%s\\ntag=%s\\n' "$c" "$t"${o.currentLink ? sh`
printf 'release=%s\\n' "$(basename "$(readlink ${o.currentLink})")"` : sh``}${o.dirty ? sh`
git -C "$d" status --porcelain --untracked-files=no | cut -c4- | sed 's/^/dirty=/'` : sh``}`,
      { readOnly: true },
    ),

  /** POSIX df of the file system holding `path`, in KiB. */
  disk: (path: string): Command => command(sh`df -P -k -- ${path}`, { readOnly: true }),
};

/** `key=value` lines -> object (values may be empty). */
export function parseKeyValues(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}
