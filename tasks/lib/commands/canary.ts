/**
 * A canary's files in the state folder of the state host, as commands: `canary.json` (where the
 * rollout is: its step, weights, clocks, decisions; any machine resumes or aborts from it) and
 * `canary-control.json` (what an operator asked from another terminal: pause, resume, promote,
 * abort; the running controller takes it within one interval). Both are written whole, through a
 * temporary file renamed over the old one, under the state folder's mutex; their text travels on
 * stdin.
 */
import { statePreamble, takeMutex } from './lock.ts';
import { command, raw, sh, type Command } from './shell.ts';

export const CANARY_FILE = 'canary.json';
export const CONTROL_FILE = 'canary-control.json';

const writeWhole = (name: string) =>
  raw(`t=$(mktemp "$d/.${name}.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
cat > "$t" && [ -s "$t" ] || { echo 'nothing on stdin' >&2; exit 1; }
mv -f -- "$t" "$d/${name}" || exit 1`);

export const canaryFiles = {
  /** The rollout's state: its text, or nothing (exit 0) when no canary ever ran here. */
  read: (stateDir: string): Command => command(sh`${statePreamble(stateDir, false)}\nif [ -e "$d/${raw(CANARY_FILE)}" ]; then cat -- "$d/${raw(CANARY_FILE)}"; fi`, { readOnly: true }),

  /** Replaces the rollout's state with `json` (one document). */
  write: (stateDir: string, json: string): Command =>
    command(sh`${statePreamble(stateDir, true)}\n${takeMutex}\n${writeWhole(CANARY_FILE)}`, { stdin: json.endsWith('\n') ? json : `${json}\n` }),

  /** An operator's request for the running controller (replaces any request not yet taken). */
  request: (stateDir: string, json: string): Command =>
    command(sh`${statePreamble(stateDir, true)}\n${takeMutex}\n${writeWhole(CONTROL_FILE)}`, { stdin: json.endsWith('\n') ? json : `${json}\n` }),

  /** The controller takes the pending request: prints it and removes it, or prints nothing. */
  take: (stateDir: string): Command =>
    command(
      sh`${statePreamble(stateDir, false)}
[ -e "$d/${raw(CONTROL_FILE)}" ] || exit 0
${takeMutex}
if [ -e "$d/${raw(CONTROL_FILE)}" ]; then cat -- "$d/${raw(CONTROL_FILE)}" && rm -f -- "$d/${raw(CONTROL_FILE)}"; fi`,
    ),
};
