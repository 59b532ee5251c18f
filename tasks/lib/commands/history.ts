/**
 * The deployment history on a host: `<state>/history.jsonl`, append-only, one JSON object per line.
 * Appends run under the state folder's mutex (see ./lock.ts) so two lines never interleave.
 */
import { appendEventLine, statePreamble, takeMutex } from './lock.ts';
import { command, sh, type Command } from './shell.ts';

export const history = {
  /** `line` is one serialised event (no newline inside; JSON.stringify never writes one). */
  append: (stateDir: string, line: string): Command => {
    if (line.includes('\n') || line === '') throw new Error('a history event must be one non-empty line');
    return command(
      sh`${statePreamble(stateDir, true)}
${takeMutex}
IFS= read -r ev && [ -n "$ev" ] || { echo 'no history event on stdin' >&2; exit 1; }
${appendEventLine}`,
      { stdin: `${line}\n` },
    );
  },

  /** Exit 0 when the state folder holds a history, 1 when not. */
  exists: (stateDir: string): Command => command(sh`${statePreamble(stateDir, false)}\ntest -s "$h"`, { readOnly: true }),

  /** The whole file; nothing (exit 0) when there is no history yet. */
  read: (stateDir: string): Command => command(sh`${statePreamble(stateDir, false)}\nif [ -e "$h" ]; then cat -- "$h"; fi`, { readOnly: true }),
};
