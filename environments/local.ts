/**
 * The built-in local environment: the bundled demo chat service (sandbox/demo-app) deployed to a
 * sandbox host on this machine, in the git-ignored folder .sandbox/, created on first use.
 * No cloud account, no SSH set-up: the host's transport is `local` (bash on this machine), with
 * the sandbox's systemctl/journalctl stand-ins first on PATH.
 */
import path from 'node:path';
import { findPgBinDir } from '../sandbox/postgres.ts';
import { defineEnvironment } from '../tasks/lib/config/schema.ts';

const root = path.resolve(import.meta.dirname, '../.sandbox');
const appPort = Number(process.env.CUTOVER_SANDBOX_APP_PORT || 18001);
const pgPort = Number(process.env.CUTOVER_SANDBOX_PG_PORT || 54329);
// without the PostgreSQL server binaries the sandbox runs without a database: no backups, no
// migrations (the sandbox says so when it is prepared)
const withDatabase = findPgBinDir() !== null;

export default defineEnvironment({
  description: 'Built-in sandbox: the demo chat service on this machine (tags v1.0.0, v1.1.0; v1.2.0 is deliberately broken)',
  sandbox: { root, appPort, pgPort },
  hosts: [{ name: 'sandbox-1', address: '127.0.0.1', transport: 'local', pathPrefix: [path.join(root, 'host/bin')] }],
  app: {
    path: path.join(root, 'host/app'),
    repo: path.join(root, 'origin.git'),
    strategy: 'in-place',
    install: ['bash install.sh'],
    migrate: withDatabase ? ['bash migrate.sh'] : [],
    migrationsDir: 'migrations',
  },
  services: [{ unit: 'demo-chat', sudo: false }],
  ...(withDatabase ? { database: { name: 'demo', host: '127.0.0.1', port: pgPort, user: 'cutover', dumpOn: 'host' as const } } : {}),
  backups: { keep: 5 },
  verify: {
    health: { url: `http://{host}:${appPort}/api/v1/health`, versionField: 'version', timeout: '15s', interval: '150ms' },
    readiness: { url: `http://{host}:${appPort}/api/v1/ready` },
    chat: {
      url: `http://{host}:${appPort}/api/v1/conversation/chat`,
      body: { user_id: 1, message: 'Mes dépenses du mois' },
      expectContains: ['response_text'],
      latencyBudget: '1s',
    },
    journal: { priority: 'err', failPatterns: ['Traceback'] },
    // tasks/verify.ts: latency percentiles over 20 health requests, and the production checklist's probes
    latency: { samples: 20, p50: '100ms', p95: '500ms', p99: '1s' },
    hardening: { oversizedBody: true, rateLimit: { requests: 30, userId: 'cutover-probe' }, readinessDependencies: ['database'] },
  },
  policy: { autoRollback: true, confirm: false },
});
