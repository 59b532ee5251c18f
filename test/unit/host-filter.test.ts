import { describe, expect, it } from 'vitest';
import { UsageError } from '../../tasks/lib/base/errors.ts';
import { parse, type TaskSpec } from '../../tasks/lib/cli/args.ts';
import { filterHosts, HOST_FILTER_OPTIONS, hostFilterFrom } from '../../tasks/lib/cli/host-filter.ts';

const hosts = [
  { name: 'web-1', tags: { Role: 'web', Env: 'prod' } },
  { name: 'web-2', tags: { Role: 'web', Env: 'prod' } },
  { name: 'api-1', tags: { Role: 'api', Env: 'prod' } },
  { name: 'db-1' },
];
const spec: TaskSpec = { name: 't', summary: '', options: HOST_FILTER_OPTIONS, examples: [] };
const filter = (...argv: string[]) => hostFilterFrom(parse(spec, argv));
const names = (argv: string[]) => filterHosts(hosts, filter(...argv), 'environments/prod.ts').map((h) => h.name);

describe('host filters', () => {
  it('no filter: every host', () => {
    expect(names([])).toEqual(['web-1', 'web-2', 'api-1', 'db-1']);
  });
  it('--hosts by name, comma-separated or repeated, * patterns; the environment order is kept', () => {
    expect(names(['--hosts', 'api-1,web-1'])).toEqual(['web-1', 'api-1']);
    expect(names(['--hosts', 'db-1', '--hosts', 'web-2'])).toEqual(['web-2', 'db-1']);
    expect(names(['--hosts', 'web-*'])).toEqual(['web-1', 'web-2']);
  });
  it('--tag KEY=VALUE, every one must match; with --hosts, both', () => {
    expect(names(['--tag', 'Role=web'])).toEqual(['web-1', 'web-2']);
    expect(names(['--tag', 'Env=prod', '--tag', 'Role=api'])).toEqual(['api-1']);
    expect(names(['--hosts', 'web-*,api-1', '--tag', 'Role=api'])).toEqual(['api-1']);
  });
  it('refuses an unknown name and a filter that keeps no host, naming it and the hosts that exist (exit 2)', () => {
    const all = 'Hosts: web-1 (Role=web, Env=prod), web-2 (Role=web, Env=prod), api-1 (Role=api, Env=prod), db-1.';
    const err = (argv: string[]) => {
      try {
        names(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as UsageError).exitCode).toBe(2);
        return (e as Error).message;
      }
      throw new Error('not refused');
    };
    expect(err(['--hosts', 'web-3,web-1'])).toBe(`--hosts web-3: no such host in environments/prod.ts. ${all}`);
    expect(err(['--hosts', 'cache-*'])).toBe(`--hosts cache-*: no such host in environments/prod.ts. ${all}`);
    expect(err(['--tag', 'Role=worker'])).toBe(`--tag Role=worker matches no host of environments/prod.ts. ${all}`);
    expect(err(['--hosts', 'db-1', '--tag', 'Role=web'])).toBe(`--hosts db-1 --tag Role=web matches no host of environments/prod.ts. ${all}`);
    expect(() => filter('--tag', 'Role')).toThrow('--tag "Role": write KEY=VALUE, e.g. --tag Role=api');
    expect(() => filter('--tag', '=x')).toThrow(UsageError);
  });
  it('a value may hold =', () => {
    expect(filter('--tag', 'Note=a=b').tags).toEqual([['Note', 'a=b']]);
  });
});
