import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostList } from '../../tasks/lib/aws/hosts.ts';
import { chooseEnvironment, listEnvironments, loadEnvironment, REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { ConfigError, UsageError } from '../../tasks/lib/base/errors.ts';

const SECRETS = { CUTOVER_SSH_KEY: '~/.ssh/id_ed25519', CUTOVER_STAGING_DB_PASSWORD: 'x-stg', CUTOVER_PRODUCTION_DB_PASSWORD: 'x-prd' };
const SCHEMA = path.join(REPO_ROOT, 'tasks/lib/config/schema.ts');

/** Write environment files into a temporary `environments/` folder. */
function envDir(files: Record<string, string>): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-env-')), 'environments');
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files))
    writeFileSync(path.join(dir, `${name}.ts`), `import { defineEnvironment } from ${JSON.stringify(SCHEMA)};\nexport default defineEnvironment(${body} as any);\n`);
  return dir;
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems.slice();
}

const GOOD = `{
  hosts: [{ name: 'web-1', address: '203.0.113.5' }],
  ssh: { privateKey: { env: 'CUTOVER_SSH_KEY' } },
  app: { path: '/srv/app', repo: 'git@example.com:a/b.git' },
  services: [{ unit: 'app' }],
  verify: { health: { url: 'http://{host}:8001/health' } },
}`;

describe('shipped environments', () => {
  it('lists local, local-canary, production, staging', () => {
    expect(listEnvironments()).toEqual(['local', 'local-canary', 'production', 'staging']);
  });

  for (const name of ['local', 'local-canary', 'staging', 'production']) {
    it(`${name} validates`, async () => {
      const env = await loadEnvironment(name, { processEnv: SECRETS });
      expect(env.name).toBe(name);
      expect(env.file).toBe(`environments/${name}.ts`);
      expect(hostList(env).length).toBeGreaterThan(0);
      expect(env.backupDir).toBe(path.join(REPO_ROOT, 'backups', name));
    });
  }

  it('staging and production follow the seed plan, on documentation addresses only', async () => {
    for (const name of ['staging', 'production']) {
      const env = await loadEnvironment(name, { processEnv: SECRETS });
      const { config } = env;
      expect(config.services.map((s) => s.unit)).toEqual(['conversation-service', 'search-service']);
      expect(config.verify.health.url).toBe('http://{host}:8001/api/v1/health');
      expect(config.verify.chat?.url).toBe('http://{host}:8001/api/v1/conversation/chat');
      expect(config.verify.chat?.latencyBudget).toBe(4000);
      for (const h of hostList(env)) expect(h.address).toMatch(/^203\.0\.113\.\d+$/);
    }
    expect((await loadEnvironment('production', { processEnv: SECRETS })).config.policy.confirm).toBe(true);
    expect((await loadEnvironment('staging', { processEnv: SECRETS })).config.policy.confirm).toBe(false);
  });

  it('staging without its secrets names each variable and .env.example', async () => {
    const problems = await problemsOf(loadEnvironment('staging', { processEnv: {} }));
    expect(problems).toEqual([
      'environments/staging.ts: ssh.privateKey: environment variable CUTOVER_SSH_KEY is not set (put it in .env or the environment; see .env.example)',
      'environments/staging.ts: database.password: environment variable CUTOVER_STAGING_DB_PASSWORD is not set (put it in .env or the environment; see .env.example)',
    ]);
  });

  it('every variable an environment reads is in .env.example', async () => {
    const { readFileSync } = await import('node:fs');
    const example = readFileSync(path.join(REPO_ROOT, '.env.example'), 'utf8');
    for (const v of [...Object.keys(SECRETS), 'DEPLOY_ENV', 'CUTOVER_SANDBOX_APP_PORT', 'CUTOVER_SANDBOX_PG_PORT', 'CUTOVER_SANDBOX_CANARY_PORT', 'CUTOVER_SANDBOX_NGINX_PORT'])
      expect(example).toMatch(new RegExp(`^${v}=`, 'm'));
  });
});

describe('broken environments are refused with every problem at once', () => {
  it('bad URL, bad duration, unknown key, missing field, bad instance id, missing secret', async () => {
    const dir = envDir({
      staging: `{
        hosts: [{ name: 'web-1', address: '203.0.113.5', instanceId: 'vm-1' }, { name: 'web-1', address: '203.0.113.6' }],
        ssh: { privateKey: { env: 'NOPE_KEY' } },
        app: { path: 'srv/app', repo: 'x', strategy: 'blue-green' },
        services: [{ unit: 'app', restrat: 'ssh' }],
        verify: { health: { url: 'not a url', timeout: '10 minutes' } },
      }`,
    });
    const problems = await problemsOf(loadEnvironment('staging', { dir, processEnv: {} }));
    expect(problems).toEqual([
      `environments/staging.ts: hosts[0].instanceId: must look like 'i-0123456789abcdef0'`,
      `environments/staging.ts: app.path: must be an absolute path`,
      `environments/staging.ts: app.strategy: Invalid option: expected one of "in-place"|"releases"`,
      `environments/staging.ts: services[0].restrat: unknown key (check its spelling; see README "Environment schema")`,
      `environments/staging.ts: verify.health.url: Invalid URL`,
      `environments/staging.ts: verify.health.timeout: must be a duration such as '250ms', '30s', '5m'`,
      `environments/staging.ts: ssh.privateKey: environment variable NOPE_KEY is not set (put it in .env or the environment; see .env.example)`,
    ]);
  });

  it('cross-field rules: duplicate host names, ssh needed, unit or commands', async () => {
    const dir = envDir({
      x: `{
        hosts: [{ name: 'a', address: '203.0.113.5' }, { name: 'a', address: '203.0.113.6' }],
        app: { path: '/srv/app', repo: 'x' },
        services: [{ sudo: true }],
        verify: { health: { url: 'http://{host}/h' } },
      }`,
      y: `{
        hosts: [{ name: 'a', address: '203.0.113.5', transport: 'local' }],
        app: { path: '/srv/app', repo: 'x' },
        services: [{ name: 'worker', commands: { restart: 'r' } }, { unit: 'u', commands: { restart: 'r', status: 's', logs: 'l' } }],
        verify: { health: { url: 'http://{host}/h' } },
      }`,
    });
    expect(await problemsOf(loadEnvironment('x', { dir, processEnv: {} }))).toEqual([
      'environments/x.ts: services[0]: needs `unit` (systemd) or `commands` (restart/status/logs)',
      `environments/x.ts: hosts[1].name: duplicate host name 'a'`,
      'environments/x.ts: ssh: is required: some hosts use the ssh transport',
    ]);
    expect(await problemsOf(loadEnvironment('y', { dir, processEnv: {} }))).toEqual([
      'environments/y.ts: services[0].commands.status: is required (expected string)',
      'environments/y.ts: services[0].commands.logs: is required (expected string)',
      'environments/y.ts: services[1]: give `unit` or `commands`, not both',
    ]);
  });

  it('hosts[].mount: local transport only, absolute paths', async () => {
    const dir = envDir({
      m: `{
        hosts: [{ name: 'a', address: '203.0.113.5', mount: { source: '/x/a', target: '/x/srv' } },
                { name: 'b', address: '127.0.0.1', transport: 'local', mount: { source: 'x/b', target: '/x/srv', extra: 1 } }],
        ssh: { privateKey: { env: 'CUTOVER_SSH_KEY' } },
        app: { path: '/x/srv/app', repo: 'x' },
        services: [{ unit: 'u' }],
        verify: { health: { url: 'http://{host}/h' } },
      }`,
    });
    expect(await problemsOf(loadEnvironment('m', { dir, processEnv: { CUTOVER_SSH_KEY: '/k' } }))).toEqual([
      "environments/m.ts: hosts[0].mount: needs transport 'local' (an SSH host has its own file system)",
      'environments/m.ts: hosts[1].mount.source: must be an absolute path',
      'environments/m.ts: hosts[1].mount.extra: unknown key (check its spelling; see README "Environment schema")',
    ]);
  });

  it('a missing required field says so', async () => {
    const dir = envDir({ z: `{ hosts: [{ name: 'a', address: '203.0.113.5' }], app: { repo: 'x' }, services: [{ unit: 'u' }] }` });
    expect(await problemsOf(loadEnvironment('z', { dir, processEnv: {} }))).toEqual([
      'environments/z.ts: app.path: is required (expected string)',
      'environments/z.ts: verify: is required (expected object)',
    ]);
  });

  it('a good file loads with defaults filled in (durations in ms)', async () => {
    const env = await loadEnvironment('good', { dir: envDir({ good: GOOD }), processEnv: { CUTOVER_SSH_KEY: '/k' } });
    expect(env.config.verify.health).toEqual({ url: 'http://{host}:8001/health', expectStatus: 200, timeout: 60000, interval: 200 });
    expect(hostList(env)[0]).toEqual({ name: 'web-1', address: '203.0.113.5', transport: 'ssh', pathPrefix: [] }); // port: 22 unless ssh config says otherwise
    expect(env.config.services[0]).toMatchObject({ unit: 'app', name: 'app', restart: 'ssh', sudo: true });
    expect(env.config.app.strategy).toBe('in-place');
    expect(env.config.policy).toEqual({ autoRollback: true, confirm: false });
    expect(env.secrets).toEqual({ CUTOVER_SSH_KEY: '/k' });
  });

  it('unknown or malformed environment names are usage errors listing what exists', async () => {
    await expect(loadEnvironment('prod')).rejects.toThrow(new UsageError('--env prod: there is no environments/prod.ts. Available: local, local-canary, production, staging.'));
    await expect(loadEnvironment('../etc/passwd')).rejects.toBeInstanceOf(UsageError);
  });
});

describe('choosing the environment', () => {
  it('--env, else DEPLOY_ENV, else local; never production by default', () => {
    expect(chooseEnvironment('staging', { DEPLOY_ENV: 'production' })).toBe('staging');
    expect(chooseEnvironment(undefined, { DEPLOY_ENV: 'staging' })).toBe('staging');
    expect(chooseEnvironment(undefined, { DEPLOY_ENV: '' })).toBe('local');
    expect(chooseEnvironment(undefined, {})).toBe('local');
  });
});

describe('secret references', () => {
  it('an `env` key inside tags, headers, a body or app.env is data, not a secret', async () => {
    const { findSecretRefs } = await import('../../tasks/lib/config/secrets.ts');
    const raw = {
      hosts: { ec2: { tags: { env: 'production' } } },
      ssh: { privateKey: { env: 'KEY' } },
      app: { env: { env: 'x' } },
      verify: { chat: { headers: { env: 'h' }, body: { env: 'b' } } },
      notifications: { webhook: { env: 'HOOK' } },
    };
    expect(findSecretRefs(raw).map((r) => `${r.path.join('.')}=${r.variable}`)).toEqual(['ssh.privateKey=KEY', 'notifications.webhook=HOOK']);
  });
});
