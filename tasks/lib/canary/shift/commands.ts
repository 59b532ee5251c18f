/**
 * The commands traffic shifting runs on the load balancer and the hosts (pure builders, every
 * value quoted once, tested by exact string). File contents always travel on stdin.
 */
import { command, raw, sh, type Command, type Fragment } from '../../commands/shell.ts';

/** Host-side limit for nginx's test and reload commands (coreutils `timeout`, KILL 5 s later). */
export const LB_COMMAND_TIMEOUT_S = 60;

/** Exit codes of lbApply and writeFile: what happened on the host. */
export const APPLY_EXIT = {
  /** `test` failed with the new file; the previous one is back, nginx was not reloaded. */
  testFailed: 10,
  /** `reload` failed; the previous file is back and nginx reloaded with it. */
  reloadFailed: 11,
  /** `reload` failed, the previous file is back, and reloading it failed too. */
  reloadFailedTwice: 12,
  /** A failure, and putting the previous file back failed: the new file may still be in place. */
  restoreFailed: 13,
  /** Writing failed (folder missing, not writable, disk full): nothing changed. */
  writeFailed: 20,
  /** The file is not what cutover read (someone changed it): nothing changed. */
  changed: 21,
  /** The path is a symbolic link: nothing changed. */
  symlink: 22,
} as const;

/** The configured test or reload command (one simple command, trusted text), with its time limit and sudo. */
export function lbCommand(text: string, sudo: boolean): Fragment {
  return sh`timeout -k 5 ${LB_COMMAND_TIMEOUT_S} ${sudo ? sh`sudo -n ` : sh``}${raw(text)}`;
}

/** nginx's dump of the configuration it loads (`-T`), from the test command when it is `... -t ...`; null otherwise. */
export function dumpCommandText(test: string): string | null {
  const words = test.trim().split(/\s+/);
  const i = words.indexOf('-t');
  if (i < 0) return null;
  words[i] = '-T';
  return words.join(' ');
}

/** The first bytes the guard and the restore rely on: the file as read, or refused when it is a link. */
const guard = (path: string, expect: string): Fragment => sh`p=${path}; d=$(dirname -- "$p"); b=$(basename -- "$p")
if [ -L "$p" ]; then echo "$p is a symbolic link: give the real path" >&2; exit ${APPLY_EXIT.symlink}; fi
if [ -e "$p" ]; then h=$(sha256sum < "$p") || exit ${APPLY_EXIT.writeFailed}; h=\${h%% *}; else h=absent; fi
if [ "$h" != ${expect} ]; then echo "$p changed since cutover read it: nothing was written; run again" >&2; exit ${APPLY_EXIT.changed}; fi`;

export const shiftCommands = {
  /**
   * A file and its sha256: first line `present <sha256>` or `absent`, then the bytes.
   * Exit 2 when the path is a symbolic link or not a regular file.
   */
  read: (path: string): Command =>
    command(
      sh`p=${path}
if [ -L "$p" ]; then echo "$p is a symbolic link: give the real path" >&2; exit 2
elif [ -f "$p" ]; then h=$(sha256sum < "$p") || exit 2; printf 'present %s\\n' "\${h%% *}"; cat -- "$p"
elif [ -e "$p" ]; then echo "$p is not a regular file" >&2; exit 2
else echo absent; fi`,
      { readOnly: true },
    ),

  /** `key=value` lines: dir, writable, file (yes|no|symlink|other), missing=<tool>, and signoff when given. */
  check: (path: string, signoff?: string): Command =>
    command(
      sh`p=${path}; d=$(dirname -- "$p")
[ -d "$d" ] && echo dir=yes || echo dir=no
[ -w "$d" ] && echo writable=yes || echo writable=no
if [ -L "$p" ]; then echo file=symlink; elif [ -f "$p" ]; then echo file=yes; elif [ -e "$p" ]; then echo file=other; else echo file=no; fi
for c in mktemp sha256sum timeout; do command -v "$c" >/dev/null || echo "missing=$c"; done${signoff ? sh`
[ -e ${signoff} ] && echo signoff=yes || echo signoff=no` : sh``}`,
      { readOnly: true },
    ),

  /** Exit 0 when the sign-off file exists. */
  signoff: (path: string): Command => command(sh`test -e ${path}`, { readOnly: true }),

  /**
   * The nginx change as one host-side transaction (it runs to its end even if the connection
   * drops): check the file is still what was read (`expect`: its sha256, or `absent`), keep it
   * (a hard link: the same bytes, owner and mode), put the new file (stdin) in place with a rename
   * — or remove the file with `remove` — run `test`; on failure put the previous file back and
   * stop; then `reload`; on failure put the previous file back and reload again. Prints
   * `timing T0 T1 T2 T3` (bash's EPOCHREALTIME before writing, after it, after the test, after
   * the reload). Exit codes: APPLY_EXIT.
   */
  lbApply: (o: { path: string; expect: string; test: string; reload: string; sudo: boolean; remove?: boolean }): Command =>
    command(
      sh`trap '' INT HUP PIPE
t0=$EPOCHREALTIME
${guard(o.path, o.expect)}
old=
if [ "$h" != absent ]; then old=$(mktemp -- "$d/.$b.cutover-old.XXXXXX") && { ln -f -- "$p" "$old" 2>/dev/null || cp -p -- "$p" "$old"; } || { rm -f -- "$old"; exit ${APPLY_EXIT.writeFailed}; }; fi
${o.remove ? sh`rm -f -- "$p" || { rm -f -- "$old"; exit ${APPLY_EXIT.writeFailed}; }` : sh`new=$(mktemp -- "$d/.$b.cutover-new.XXXXXX") || { rm -f -- "$old"; exit ${APPLY_EXIT.writeFailed}; }
{ cat > "$new" && { chmod --reference="$p" -- "$new" 2>/dev/null || chmod 0644 -- "$new"; } && mv -f -- "$new" "$p"; } || { rm -f -- "$new" "$old"; exit ${APPLY_EXIT.writeFailed}; }`}
t1=$EPOCHREALTIME
back() { if [ -n "$old" ]; then mv -f -- "$old" "$p"; else rm -f -- "$p"; fi; }
if ! out=$(${lbCommand(o.test, o.sudo)} 2>&1); then printf '%s\\n' "$out" >&2; back || exit ${APPLY_EXIT.restoreFailed}; exit ${APPLY_EXIT.testFailed}; fi
t2=$EPOCHREALTIME
if ! out=$(${lbCommand(o.reload, o.sudo)} 2>&1); then printf '%s\\n' "$out" >&2; back || exit ${APPLY_EXIT.restoreFailed}
  if out=$(${lbCommand(o.reload, o.sudo)} 2>&1); then exit ${APPLY_EXIT.reloadFailed}; fi
  printf 'reloading with the previous file: %s\\n' "$out" >&2; exit ${APPLY_EXIT.reloadFailedTwice}
fi
t3=$EPOCHREALTIME
rm -f -- "$old"
echo "timing $t0 $t1 $t2 $t3"`,
    ),

  /**
   * Replace a file with stdin atomically (temporary file in the same folder, then a rename), if it
   * is still what was read (`expect`: its sha256); the new file keeps the old one's mode (and
   * owner, where allowed). Exit codes: APPLY_EXIT.
   */
  writeFile: (path: string, expect: string): Command =>
    command(
      sh`trap '' INT HUP PIPE
${guard(path, expect)}
new=$(mktemp -- "$d/.$b.cutover-new.XXXXXX") || exit ${APPLY_EXIT.writeFailed}
{ cat > "$new" && { chmod --reference="$p" -- "$new" 2>/dev/null || chmod 0644 -- "$new"; } && { chown --reference="$p" -- "$new" 2>/dev/null || true; } && mv -f -- "$new" "$p"; } || { rm -f -- "$new"; exit ${APPLY_EXIT.writeFailed}; }`,
    ),

  /** A command from the environment (a reload, a service's own restart), run as written. */
  configured: (text: string, readOnly = false): Command => command(raw(text), { readOnly }),
};
