/**
 * Several steps of a deploy on one host (check out, install, migrate; or a new release folder and
 * its install) as ONE command: each step's commands run in order, each exactly as it would run on
 * its own (in a subshell of its own: its `cd`, its variables and an `exit` stay inside it), and
 * the first failure ends the script with its exit code. Marker lines say where it is:
 * `\x1erun <i>` before the i-th command (on stdout and on stderr, so each stream can be split by
 * command), `\x1edone <step>` once a step's commands all succeeded.
 *
 * A command's stdin (the database password of a migration) is one line, read from the script's
 * stdin just before that command and handed to it alone through a pipe from printf (a builtin:
 * never on a command line), then forgotten; the other commands read from /dev/null, as alone.
 */
import { command, raw, sh, type Command, type Fragment } from './shell.ts';

export interface StagedStep {
  /** Lower-case letters and `-`: a marker, never a value from outside. */
  readonly name: string;
  readonly commands: readonly Command[];
}

const NAME = /^[a-z][a-z-]*$/;

export function stagedScript(steps: readonly StagedStep[]): Command {
  const body: Fragment[] = [];
  const stdin: string[] = [];
  const redact: string[] = [];
  let i = 0;
  for (const step of steps) {
    if (!NAME.test(step.name)) throw new Error(`not a step name: ${JSON.stringify(step.name)}`);
    for (const c of step.commands) {
      body.push(raw(`printf '\\036run %s\\n' ${i}; printf '\\036run %s\\n' ${i} >&2`));
      if (c.stdin !== undefined) {
        if (!/^[^\n]*\n$/.test(c.stdin)) throw new Error('stagedScript: a command reads at most one line on stdin');
        body.push(sh`IFS= read -r in || in=\nprintf '%s\\n' "$in" | (\n${raw(c.script)}\n) || exit $?\nunset in`);
        stdin.push(c.stdin);
      } else body.push(sh`(\n${raw(c.script)}\n) </dev/null || exit $?`);
      redact.push(...(c.redact ?? []));
      i++;
    }
    body.push(sh`printf '\\036done %s\\n' ${step.name}`);
  }
  return command(raw(body.map((f) => f.text).join('\n')), {
    ...(stdin.length ? { stdin: stdin.join('') } : {}),
    ...(redact.length ? { redact } : {}),
  });
}
