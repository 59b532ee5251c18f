import { describe, expect, it } from 'vitest';
import { COMMON_OPTIONS, helpText, parse, str, flag, type TaskSpec } from '../../tasks/lib/cli/args.ts';
import { UsageError } from '../../tasks/lib/base/errors.ts';

const spec: TaskSpec = {
  name: 'deploy',
  summary: 'Deploy a tag.',
  positionals: [{ name: 'tag', help: 'the git tag to deploy' }],
  options: { env: COMMON_OPTIONS.env, json: COMMON_OPTIONS.json, help: COMMON_OPTIONS.help },
  examples: ['npx tsx tasks/deploy.ts v1.1.0'],
};

describe('flags', () => {
  it('parses flags and positionals', () => {
    const a = parse(spec, ['v1.1.0', '--env', 'staging', '--json']);
    expect(a.positionals).toEqual(['v1.1.0']);
    expect(str(a, 'env')).toBe('staging');
    expect(flag(a, 'json')).toBe(true);
    expect(flag(a, 'help')).toBe(false);
  });

  it('refuses unknown flags, extra arguments and missing ones, naming them', () => {
    expect(() => parse(spec, ['v1', '--enc', 'x'])).toThrow(UsageError);
    expect(() => parse(spec, ['v1', '--enc', 'x'])).toThrow(/--enc.*tasks\/deploy\.ts --help/);
    expect(() => parse(spec, ['v1', 'v2'])).toThrow('unexpected argument "v2". Usage: npx tsx tasks/deploy.ts <tag> [options]');
    expect(() => parse(spec, [])).toThrow('missing <tag>. Usage: npx tsx tasks/deploy.ts <tag> [options]');
    expect(parse(spec, ['--help']).values.help).toBe(true);
  });

  it('help lists every flag, the arguments, examples and exit codes', () => {
    const h = helpText(spec);
    for (const f of ['--env NAME', '--json', '-h, --help', 'tag', 'npx tsx tasks/deploy.ts v1.1.0', 'Exit codes: 0'])
      expect(h).toContain(f);
  });
});
