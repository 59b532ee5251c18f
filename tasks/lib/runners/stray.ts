/**
 * A command the connection dropped under may still run on the host (sshd does not always stop it).
 * Before anything else runs on a new connection, such a command is stopped by its tag
 * (killTagged) and confirmed gone. Builders: pure, tested by exact comparison.
 */
import { command, sh, type Command } from '../commands/shell.ts';

/** `[c]utover-ab12`: matches the tag in process lists, never the command that searches for it. */
function pattern(tag: string): string {
  if (!/^cutover-[0-9a-f]+$/.test(tag)) throw new Error(`not a command tag: ${tag}`);
  return `[${tag[0]}]${tag.slice(1)}`;
}

/** How many processes carry the tag (prints a number, exit 0); pgrep's own failure (exit 2, 3) is its exit code. */
export function countTagged(tag: string): Command {
  return command(sh`out=$(pgrep -f -- ${pattern(tag)}); s=$?; [ "$s" -le 1 ] || exit "$s"; printf '%s' "$out" | grep -c . || true`, { readOnly: true });
}

/** Exit 0 once no process carries the tag (polled for up to 5 s); else print them (pid and command) and exit 3. */
export function confirmGone(tag: string): Command {
  const p = pattern(tag);
  return command(
    sh`for i in $(seq 50); do pgrep -f -- ${p} >/dev/null || exit 0; sleep 0.1; done; pgrep -a -f -- ${p}; exit 3`,
    { readOnly: true },
  );
}
