/**
 * canary `instances` mode: the second instance of the service, beside the stable one on the same
 * host. Its unit runs from `<app.path>/<link>`, a link switched atomically (like `current`) to the
 * release folder under test; starting it restarts only that unit, so the stable instance and its
 * users are never touched.
 */
import { and, command, raw, sh, type Command, type Fragment } from './shell.ts';

export interface InstanceSpec {
  /** app.path (the releases root). */
  readonly root: string;
  /** The link under root the unit runs from. */
  readonly link: string;
  readonly unit: string;
  readonly sudo: boolean;
}

const systemctl = (sudo: boolean): Fragment => (sudo ? sh`sudo -n systemctl` : sh`systemctl`);
const linkPath = (s: InstanceSpec) => `${s.root}/${s.link}`;

/** Exit 3 with `\x1estate <state>` unless the unit is active within `waitSec`; 0 with it once active. */
function waitActive(unit: string, waitSec: number): Fragment {
  return sh`end=$((SECONDS + ${String(waitSec)}))
while :; do
  s=$(systemctl is-active -- ${unit}) && break
  if [ "$s" = failed ] || [ "$SECONDS" -ge "$end" ]; then printf '\\036state %s\\n' "$s"; exit 3; fi
  sleep 0.2
done
printf '\\036state %s\\n' "$s"`;
}

export const instance = {
  /**
   * The instance on `release` (a folder under releases/): its link switched, its unit restarted,
   * then waited for until active. Prints the host's clock first (the journal scan starts there).
   */
  start: (s: InstanceSpec, release: string, waitSec: number): Command => {
    if (!Number.isInteger(waitSec) || waitSec < 1) throw new Error(`instance.start: waitSec must be a positive integer, got ${waitSec}`);
    const link = linkPath(s);
    return command(
      raw(
        [
          raw('date +%s.%N'),
          and(sh`ln -sfn ${`releases/${release}`} ${`${link}.new`}`, sh`mv -T ${`${link}.new`} ${link}`, sh`${systemctl(s.sudo)} restart -- ${s.unit}`),
          raw('[ $? = 0 ] || exit 4'),
          waitActive(s.unit, waitSec),
        ]
          .map((f) => f.text)
          .join('\n'),
      ),
    );
  },
  /** The instance stopped and its link removed; exit 3 when the unit is still active after that. */
  stop: (s: InstanceSpec): Command =>
    command(
      sh`${systemctl(s.sudo)} stop -- ${s.unit} || exit $?
rm -f -- ${linkPath(s)}
s=$(systemctl is-active -- ${s.unit})
printf '\\036state %s\\n' "$s"
[ "$s" != active ] || exit 3`,
    ),
  /** Read-only: the unit exists, and what its link points at now (empty: no link). */
  facts: (s: InstanceSpec): Command =>
    command(sh`${systemctl(s.sudo)} cat -- ${s.unit} >/dev/null || exit 5
printf '\\036state %s\\n' "$(systemctl is-active -- ${s.unit})"
if [ -L ${linkPath(s)} ]; then printf '\\036link %s\\n' "$(basename "$(readlink ${linkPath(s)})")"; fi`, { readOnly: true }),
};

/** The `\x1estate` and `\x1elink` lines of instance commands. */
export function parseInstance(stdout: string): { state: string | null; link: string | null } {
  const at = (key: string) => stdout.split('\n').find((l) => l.startsWith(`\x1e${key} `))?.slice(key.length + 2).trim() ?? null;
  return { state: at('state'), link: at('link') };
}
