/**
 * `--hosts NAME[,NAME]` and `--tag KEY=VALUE`: which of an environment's hosts a task works on.
 * Pure. A filter that names an unknown host, or leaves no host, is refused (exit 2) with the
 * hosts that exist, so a typo never silently means "none" (or "all").
 */
import { UsageError } from '../base/errors.ts';
import type { OptionSpec, ParsedArgs } from './args.ts';

export const HOST_FILTER_OPTIONS = {
  hosts: { type: 'string', value: 'NAME[,NAME]', multiple: true, help: 'only these hosts (comma-separated or repeated; * matches any run of characters, as in web-*)' },
  tag: { type: 'string', value: 'KEY=VALUE', multiple: true, help: 'only hosts carrying this tag (hosts[].tags, or the EC2 instance tags); repeated: every one' },
} as const satisfies Record<string, OptionSpec>;

export interface HostFilter {
  /** Names or `*` patterns; empty: every host. */
  readonly names: readonly string[];
  /** Every pair must match. */
  readonly tags: readonly (readonly [string, string])[];
}

export interface Filterable {
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
}

function many(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
}

/** The filter from --hosts (and verify's older --host) and --tag; a malformed --tag is refused. */
export function hostFilterFrom(args: ParsedArgs, alsoNames: readonly string[] = []): HostFilter {
  const names = [...many(args, 'hosts'), ...alsoNames].flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const tags = many(args, 'tag').map((t) => {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`--tag ${JSON.stringify(t)}: write KEY=VALUE, e.g. --tag Role=api`);
    return [t.slice(0, eq), t.slice(eq + 1)] as const;
  });
  return { names, tags };
}

export const isEmptyFilter = (f: HostFilter) => f.names.length === 0 && f.tags.length === 0;

function pattern(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** `--hosts web-1,web-2 --tag Role=api`, as the user wrote it. */
export function describeFilter(f: HostFilter): string {
  return [f.names.length ? `--hosts ${f.names.join(',')}` : '', ...f.tags.map(([k, v]) => `--tag ${k}=${v}`)].filter(Boolean).join(' ');
}

const listed = (all: readonly Filterable[]) =>
  all.map((h) => `${h.name}${h.tags && Object.keys(h.tags).length ? ` (${Object.entries(h.tags).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`).join(', ');

/** The hosts the filter keeps, in the environment's order. Refuses a name that matches no host, and a filter that keeps none. */
export function filterHosts<H extends Filterable>(all: readonly H[], f: HostFilter, file: string): H[] {
  if (isEmptyFilter(f)) return [...all];
  const patterns = f.names.map((n) => [n, pattern(n)] as const);
  const unknown = patterns.filter(([, re]) => !all.some((h) => re.test(h.name))).map(([n]) => n);
  if (unknown.length) throw new UsageError(`--hosts ${unknown.join(',')}: no such host in ${file}. Hosts: ${listed(all)}.`);
  const kept = all.filter((h) => (!patterns.length || patterns.some(([, re]) => re.test(h.name))) && f.tags.every(([k, v]) => h.tags?.[k] === v));
  if (!kept.length) throw new UsageError(`${describeFilter(f)} matches no host of ${file}. Hosts: ${listed(all)}.`);
  return kept;
}
