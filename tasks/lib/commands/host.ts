import { command, sh, type Command } from './shell.ts';

/** One line per name: `name<TAB>path`, path empty when the command is missing. Always exits 0. */
export function whichCommands(names: readonly string[]): Command {
  return command(sh`for c in ${names}; do printf '%s\\t%s\\n' "$c" "$(command -v -- "$c" || true)"; done`, { readOnly: true });
}

export function parseWhich(stdout: string): Map<string, string | null> {
  const found = new Map<string, string | null>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [name, p] = line.split('\t');
    found.set(name!, p ? p : null);
  }
  return found;
}
