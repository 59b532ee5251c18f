/**
 * Commands as data. A Command's script is what the remote bash runs; every value in it was
 * quoted exactly once by `sh` (or `quote`). Runners never add quoting of their own to values.
 */

export interface Command {
  /** Bash source; every interpolated value already quoted once. */
  readonly script: string;
  /** Fed to the command's standard input (how secrets travel: never on a command line). */
  readonly stdin?: string;
  /** Strings to mask wherever this command is shown (logs, errors, dry-run). */
  readonly redact?: readonly string[];
  /** Changes nothing on the host: --dry-run may run it for real to show an accurate plan. */
  readonly readOnly?: boolean;
}

/** A fragment already safe to splice into a script (built by `sh` or `raw`). */
export class Fragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Marks trusted, already-formed shell text (e.g. an install command from an environment file). */
export function raw(text: string): Fragment {
  return new Fragment(text);
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX single-quote one value so the shell reads it back byte for byte. */
export function quote(value: string): string {
  if (value !== '' && SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

type Value = string | number | Fragment | readonly (string | number | Fragment)[];

function render(v: Value): string {
  if (v instanceof Fragment) return v.text;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return quote(v);
  return v.map((x) => render(x)).join(' ');
}

/** Tagged template: `sh\`git -C ${dir} checkout ${tag}\`` quotes each value once; arrays become several words. */
export function sh(strings: TemplateStringsArray, ...values: Value[]): Fragment {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Fragment(out);
}

/** `a && b && c`: stop at the first failure. */
export function and(...parts: Fragment[]): Fragment {
  return new Fragment(parts.map((p) => p.text).join(' && '));
}

/** Run `cmd` inside `dir`, and only if the cd succeeded (never `cd dir ; cmd`). */
export function inDir(dir: string, cmd: Fragment): Fragment {
  return sh`cd ${dir} && ${cmd}`;
}

export function command(script: Fragment, extra: Omit<Command, 'script'> = {}): Command {
  return { script: script.text, ...extra };
}

/**
 * What a runner hands to the host's login shell: bash with pipefail, the script as one argument.
 * `tag` becomes bash's $0, so the command's processes can be found (and stopped) by it.
 */
export function wrapForBash(cmd: Command, tag?: string): string {
  return `bash -o pipefail -c ${quote(cmd.script)}${tag ? ` ${quote(tag)}` : ''}`;
}

/**
 * Stop every process group whose leader's command line carries `tag` (a command started with
 * wrapForBash(cmd, tag)): SIGTERM, then SIGKILL a second later. The `[c]` keeps this command
 * from matching itself.
 */
export function killTagged(tag: string): Command {
  if (!/^cutover-[0-9a-f]+$/.test(tag)) throw new Error(`not a command tag: ${tag}`);
  const pattern = `[${tag[0]}]${tag.slice(1)}`;
  const groups = sh`for p in $(pgrep -f -- ${pattern}); do ps -o pgid= -p "$p"; done | sort -u`;
  return command(sh`g=$(${groups}); [ -z "$g" ] && exit 0; for x in $g; do kill -TERM -- "-$x" 2>/dev/null; done; sleep 1; for x in $g; do kill -KILL -- "-$x" 2>/dev/null; done; exit 0`);
}

/** The command as a person may see it: secrets masked. */
export function display(cmd: Command, extraSecrets: readonly string[] = []): string {
  return redact(cmd.script, [...(cmd.redact ?? []), ...extraSecrets]);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 3) out = out.split(s).join('***');
  return out;
}
