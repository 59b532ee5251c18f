/**
 * Several reads in one command (one SSH round trip): each section runs in its own subshell with
 * standard input from /dev/null (an `exit` ends only that section), and its output is framed by
 * marker lines, `\x1e<name>` before and `\x1e=<name> <exit code>` after, on standard output. The
 * RS character (0x1e) does not occur in what the sections print: git, systemd and df never print
 * it, and sections that print free text (commit subjects, file names, history lines) delete it.
 */
import { raw, sh, type Fragment } from './shell.ts';

export const RS = '\x1e';
const NAME = /^[a-z][a-z0-9:-]*$/;

export interface Section {
  /** Lower-case letters, digits, `:` and `-` (a marker, never a value from outside). */
  readonly name: string;
  readonly body: Fragment;
}

/** What a section printed on standard output (without the newline the end marker adds), and how it exited. */
export interface SectionOutput {
  readonly out: string;
  readonly code: number;
}

/** Deletes RS from free text a section prints (so it cannot be read as a marker). */
export const noMarkers = raw(`tr -d '\\036'`);

export function sectioned(sections: readonly Section[]): Fragment {
  const parts = sections.map(({ name, body }) => {
    if (!NAME.test(name)) throw new Error(`not a section name: ${JSON.stringify(name)}`);
    return sh`printf '\\036%s\\n' ${name}\n(\n${body}\n) </dev/null\nprintf '\\n\\036=%s %s\\n' ${name} "$?"`;
  });
  return raw(parts.map((p) => p.text).join('\n'));
}

/** The sections of a sectioned command's output; a section whose end marker is missing (cut short) is left out. */
export function parseSections(text: string): Map<string, SectionOutput> {
  const out = new Map<string, SectionOutput>();
  let name: string | null = null;
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(`${RS}=`)) {
      const m = /^\x1e=([a-z][a-z0-9:-]*) (\d+)$/.exec(line);
      if (m && m[1] === name) {
        // the end marker starts with a newline of its own: drop the empty line it made
        if (lines.at(-1) === '') lines.pop();
        out.set(name, { out: lines.join('\n'), code: Number(m[2]) });
      }
      name = null;
      lines = [];
    } else if (line.startsWith(RS)) {
      name = line.slice(1);
      lines = [];
    } else if (name !== null) lines.push(line);
  }
  return out;
}
