/**
 * Flags: node's own parseArgs (no dependency on the start-up path, so --help stays fast).
 * Every flag a task accepts is declared here or in its spec, and so appears in its --help.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../base/errors.ts';

export interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** Placeholder shown in help for string options: --env NAME */
  readonly value?: string;
  readonly help: string;
  readonly multiple?: boolean;
}

export interface TaskSpec {
  /** `doctor` -> `npx tsx tasks/doctor.ts` */
  readonly name: string;
  readonly summary: string;
  readonly positionals?: readonly { name: string; help: string; optional?: boolean }[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
  /** Lines added after the exit codes (what the task changes, what it never does). */
  readonly notes?: readonly string[];
}

export const COMMON_OPTIONS = {
  env: { type: 'string', value: 'NAME', help: 'environment to use: environments/NAME.ts (default: $DEPLOY_ENV, else local)' },
  json: { type: 'boolean', help: 'print a machine-readable summary on stdout at the end' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, OptionSpec>;

/** Every task has --version, listed in its --help. */
const VERSION_OPTION = { version: { type: 'boolean', help: "print the task's name, cutover's version and git commit, then exit" } } as const satisfies Record<string, OptionSpec>;

function optionsOf(spec: TaskSpec): Readonly<Record<string, OptionSpec>> {
  return { ...spec.options, ...VERSION_OPTION };
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

export function parse(spec: TaskSpec, argv: readonly string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: optionsOf(spec) as Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }>,
      allowPositionals: true,
      strict: true,
    });
    const max = spec.positionals?.length ?? 0;
    if (positionals.length > max)
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}. Usage: ${usageLine(spec)}`);
    const missing = (spec.positionals ?? []).find((p, i) => !p.optional && positionals[i] === undefined);
    if (missing && !values.help && !values.version) throw new UsageError(`missing <${missing.name}>. Usage: ${usageLine(spec)}`);
    return { values, positionals };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // parseArgs' own messages name the bad flag: "Unknown option '--enc'"
    throw new UsageError(`${(err as Error).message}. See: npx tsx tasks/${spec.name}.ts --help`);
  }
}

function usageLine(spec: TaskSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.optional ? `[${p.name}]` : `<${p.name}>`)).join(' ');
  return `npx tsx tasks/${spec.name}.ts ${pos ? `${pos} ` : ''}[options]`;
}

export function helpText(spec: TaskSpec): string {
  const flag = ([name, o]: [string, OptionSpec]) => `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
  const entries = Object.entries(optionsOf(spec));
  const width = Math.max(...entries.map((e) => flag(e).length), ...(spec.positionals ?? []).map((p) => p.name.length + 4));
  const lines = [`${spec.summary}`, '', `Usage: ${usageLine(spec)}`, ''];
  if (spec.positionals?.length) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(width)}  ${p.help}`);
    lines.push('');
  }
  lines.push('Options:');
  for (const e of entries) lines.push(`  ${flag(e).padEnd(width)}  ${e[1].help}`);
  lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  lines.push('', 'Exit codes: 0 done and verified; 1 failed, rolled back, rollback verified; 2 refused before changing anything;');
  lines.push('            3 failed and NOT safely rolled back (a human must look); 130 interrupted.');
  if (spec.notes?.length) lines.push('', ...spec.notes);
  return lines.join('\n');
}

/** A string flag's value (the last one when repeated). */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) return v.map(String).at(-1);
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
