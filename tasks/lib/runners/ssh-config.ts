/**
 * `Host` blocks of an OpenSSH client config file, as `ssh` applies them: the host name lowercased,
 * every block whose pattern list matches it (`*` any run, `?` exactly one character, `!` negation,
 * `Host *`), in file order, the first value of each keyword winning (IdentityFile accumulates).
 * Parsed by the `ssh-config` package; the matching is ours because its `compute` runs `Match exec`
 * commands, looks names up in DNS (CanonicalizeHostName), reads `?` as "zero or one character"
 * and does not say which block a value came from. `Match` blocks and `Include` are not read.
 */
import SSHConfig, { type Directive, type Section } from 'ssh-config';

export interface ConfigValue {
  readonly value: string;
  /** `Host web-* *.internal`, or `(top of the file)` for lines before the first block. */
  readonly block: string;
}

/** Keywords cutover reads, lowercased, to their values (IdentityFile and UserKnownHostsFile: every value). */
export type HostConfig = ReadonlyMap<string, ConfigValue & { readonly all: readonly string[] }>;

const READ = new Set(['hostname', 'user', 'port', 'identityfile', 'proxyjump', 'userknownhostsfile']);

function values(d: Directive): string[] {
  // multi-value keywords (Host, UserKnownHostsFile) come as lists; a quoted value stays whole
  return typeof d.value === 'string' ? (d.value ? [d.value] : []) : d.value.map((v) => v.val);
}

function globMatch(pattern: string, name: string): boolean {
  let re = '';
  for (const c of pattern.toLowerCase()) re += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${re}$`).test(name);
}

/** OpenSSH's pattern-list rule: a matching negated pattern excludes the block whatever else matches. */
export function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export function parseSshConfig(text: string): SSHConfig {
  return SSHConfig.parse(text);
}

/** What the file says for `host` (as given to ssh: an alias or an address). */
export function hostConfig(config: SSHConfig, host: string): HostConfig {
  const name = host.toLowerCase();
  const out = new Map<string, ConfigValue & { all: string[] }>();
  const apply = (d: Directive, block: string) => {
    const key = d.param.toLowerCase();
    if (!READ.has(key)) return;
    const vals = values(d);
    if (!vals.length) return;
    const seen = out.get(key);
    if (key === 'identityfile') {
      if (seen) seen.all.push(...vals);
      else out.set(key, { value: vals[0]!, all: [...vals], block });
    } else if (!seen) out.set(key, { value: vals[0]!, all: vals, block });
  };
  for (const line of config) {
    if (line.type !== SSHConfig.DIRECTIVE) continue;
    const d = line as Directive;
    if (/^host$/i.test(d.param)) {
      const patterns = values(d);
      if (hostMatches(patterns, name)) for (const sub of (d as Section).config) if (sub.type === SSHConfig.DIRECTIVE) apply(sub as Directive, `Host ${patterns.join(' ')}`);
    } else if (!/^match$/i.test(d.param)) apply(d, '(top of the file)');
  }
  return out;
}

/** OpenSSH's % tokens in HostName and IdentityFile (%h host, %n as given, %p port, %r remote user, %u local user, %d home, %%), and a leading ~. */
export function expandTokens(value: string, t: { host: string; original: string; port: number; user: string; localUser: string; home: string }): string {
  const expanded = value.replace(/%([hnpurd%])/g, (_m, k: string) =>
    k === 'h' ? t.host : k === 'n' ? t.original : k === 'p' ? String(t.port) : k === 'r' ? t.user : k === 'u' ? t.localUser : k === 'd' ? t.home : '%',
  );
  return expanded === '~' || expanded.startsWith('~/') ? `${t.home}${expanded.slice(1)}` : expanded;
}
