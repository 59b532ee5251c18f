import { describe, expect, it } from 'vitest';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { resolveHosts, hostList } from '../../tasks/lib/aws/hosts.ts';
import { ssmRestartOptions, ssmTargets } from '../../tasks/lib/aws/restart-options.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { formatIssues } from '../../tasks/lib/config/issues.ts';
import { ConfigError, CutoverError } from '../../tasks/lib/base/errors.ts';

const BASE = {
  ssh: { privateKey: { env: 'CUTOVER_SSH_KEY' } },
  app: { path: '/srv/app', repo: 'git@example.com:a/b.git' },
  verify: { health: { url: 'http://{host}:8001/health' } },
};
const hosts = [
  { name: 'web-1', address: '203.0.113.5', instanceId: 'i-0123456789abcdef0' },
  { name: 'web-2', address: '203.0.113.6', instanceId: 'i-0123456789abcdef1' },
];
const problems = (v: unknown) => {
  const r = Environment.safeParse(v);
  return r.success ? [] : formatIssues('environments/x.ts', r.error.issues);
};
const loaded = (v: unknown): LoadedEnvironment => ({ name: 'x', file: 'environments/x.ts', config: Environment.parse(v), secrets: {}, backupDir: '/tmp/x' });

describe('aws, ssm and EC2 discovery in the environment schema', () => {
  it('SSM restarts with defaults: 60 s delivery, 10 min execution, polls 250 ms..2 s, deadline 10 min', () => {
    const env = Environment.parse({ ...BASE, hosts, aws: { region: 'eu-west-1' }, ssm: {}, services: [{ unit: 'api', restart: 'ssm' }] });
    expect(env.aws).toEqual({ region: 'eu-west-1' });
    expect(env.ssm).toEqual({ timeoutSeconds: 60, executionTimeout: 600_000, pollMin: 250, pollMax: 2000, deadline: 600_000 });
    expect(env.services[0]).toMatchObject({ unit: 'api', restart: 'ssm' });
  });

  it('SSM restarts need aws, a unit, and an instance id on every listed host', () => {
    expect(problems({ ...BASE, hosts: [hosts[0], { name: 'web-2', address: '203.0.113.6' }], services: [{ name: 'x', commands: { restart: 'a', status: 'b', logs: 'c' }, restart: 'ssm' }, { unit: 'api', restart: 'ssm' }] })).toEqual([
      "environments/x.ts: services[0].restart: 'ssm' restarts a systemd `unit` (SSM runs systemctl)",
      'environments/x.ts: aws: is required: services[0] restarts through SSM',
      'environments/x.ts: hosts[1].instanceId: is required: services[0] restarts through SSM',
    ]);
  });

  it('checks aws and ssm values', () => {
    expect(problems({ ...BASE, hosts, aws: { region: 'Ireland', endpoint: 'ftp://x', key: 'k' }, ssm: { timeoutSeconds: 10, executionTimeout: '3d', pollMin: '5s', pollMax: '1s' }, services: [{ unit: 'api' }] })).toEqual([
      "environments/x.ts: aws.region: must be a region such as 'eu-west-1'",
      'environments/x.ts: aws.endpoint: must be an http(s) URL',
      'environments/x.ts: aws.key: unknown key (check its spelling; see README "Environment schema")',
      'environments/x.ts: ssm.timeoutSeconds: Too small: expected number to be >=30',
      "environments/x.ts: ssm.executionTimeout: must be a duration such as '250ms', '30s', '5m'",
      'environments/x.ts: ssm.pollMin: needs 0 < pollMin <= pollMax',
    ]);
    expect(problems({ ...BASE, hosts, ssm: { pollMin: '5s', pollMax: '1s' }, services: [{ unit: 'api' }] })).toEqual(['environments/x.ts: ssm.pollMin: needs 0 < pollMin <= pollMax']);
  });

  it('hosts may be discovered from EC2 tags (needs aws and ssh); mistakes are reported at their key', () => {
    const env = Environment.parse({ ...BASE, aws: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566' }, hosts: { ec2: { tags: { Role: 'api', Env: 'production' } } }, services: [{ unit: 'api', restart: 'ssm' }] });
    expect(env.hosts).toEqual({ ec2: { tags: { Role: 'api', Env: 'production' }, address: 'private' } });
    expect(problems({ ...BASE, ssh: undefined, hosts: { ec2: { tags: {} } }, services: [{ unit: 'api' }] })).toEqual([
      'environments/x.ts: hosts.ec2.tags: needs at least one tag',
      'environments/x.ts: ssh: is required: some hosts use the ssh transport',
      'environments/x.ts: aws: is required: hosts are discovered from EC2',
    ]);
    expect(problems({ ...BASE, aws: { region: 'eu-west-1' }, hosts: { ec2: { tags: { a: 'b' }, address: 'elastic' }, ec3: 1 }, services: [{ unit: 'api' }] })).toEqual([
      'environments/x.ts: hosts.ec2.address: Invalid option: expected one of "private"|"public"',
      'environments/x.ts: hosts.ec3: unknown key (check its spelling; see README "Environment schema")',
    ]);
  });

  it('a host list still reports its own problems at their key', () => {
    expect(problems({ ...BASE, hosts: [{ name: 'a', address: '203.0.113.5', instanceId: 'vm-1' }], services: [{ unit: 'api' }] })).toEqual([
      "environments/x.ts: hosts[0].instanceId: must look like 'i-0123456789abcdef0'",
    ]);
  });

  it('resolveHosts gives a static list as it is, without AWS', async () => {
    const env = loaded({ ...BASE, hosts, services: [{ unit: 'api' }] });
    expect(await resolveHosts(env)).toBe(env.config.hosts);
    expect(hostList(env)).toBe(env.config.hosts);
    const discovered = loaded({ ...BASE, aws: { region: 'eu-west-1' }, hosts: { ec2: { tags: { a: 'b' } } }, services: [{ unit: 'api' }] });
    expect(() => hostList(discovered)).toThrow(new CutoverError('environments/x.ts: hosts are discovered from EC2 (hosts.ec2); this needs resolveHosts()'));
  });

  it('ssmRestartOptions takes the environment sections; a host without instance id is named', () => {
    const env = loaded({ ...BASE, hosts, aws: { region: 'eu-west-1' }, ssm: { executionTimeout: '90s', cloudWatchLogGroup: '/cutover/x' }, services: [{ unit: 'api', restart: 'ssm' }] });
    expect(ssmRestartOptions(env, env.config.hosts as never, { units: ['api'], sudo: true, maxConcurrency: 1 })).toEqual({
      settings: { region: 'eu-west-1', profile: undefined, endpoint: undefined, source: 'environments/x.ts' },
      targets: [{ hostName: 'web-1', instanceId: 'i-0123456789abcdef0' }, { hostName: 'web-2', instanceId: 'i-0123456789abcdef1' }],
      units: ['api'], sudo: true, timeoutSeconds: 60, executionTimeoutSeconds: 90, maxConcurrency: 1, cloudWatchLogGroup: '/cutover/x', pollMinMs: 250, pollMaxMs: 2000, deadlineMs: 600_000,
    });
    expect(() => ssmTargets([{ name: 'db', address: '203.0.113.9', port: 22, transport: 'ssh', pathPrefix: [] }])).toThrow('SSM restarts need an instanceId on every host; missing on: db');
    expect(() => ssmRestartOptions(loaded({ ...BASE, hosts, services: [{ unit: 'api' }] }), [], { units: ['api'], sudo: true })).toThrow(ConfigError);
  });
});
