/**
 * Staging, modelled on the seed release plan (one EC2 host running conversation-service and
 * search-service behind PostgreSQL). Addresses are documentation addresses (RFC 5737): replace
 * them with yours. Running it needs the secrets in .env (see .env.example).
 */
import { defineEnvironment } from '../tasks/lib/config/schema.ts';

export default defineEnvironment({
  description: 'Staging: one EC2 host, conversation-service + search-service',
  hosts: [{ name: 'staging-1', address: '203.0.113.10', user: 'ec2-user', instanceId: 'i-0a1b2c3d4e5f60718' }],
  ssh: {
    user: 'ec2-user',
    privateKey: { env: 'CUTOVER_SSH_KEY' },
    knownHosts: '~/.ssh/known_hosts',
    hostKeys: 'verify',
  },
  app: {
    path: '/home/ec2-user/harena',
    repo: 'git@github.com:example/harena.git',
    strategy: 'in-place',
    install: ['source env/bin/activate && pip install -r requirements.txt'],
    migrate: ['source env/bin/activate && alembic upgrade head'],
    migrationsDir: 'alembic/versions',
  },
  services: [
    { unit: 'conversation-service', sudo: true },
    { unit: 'search-service', sudo: true },
  ],
  database: { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena', password: { env: 'CUTOVER_STAGING_DB_PASSWORD' }, dumpOn: 'host' },
  backups: { keep: 10 },
  verify: {
    health: { url: 'http://{host}:8001/api/v1/health', versionField: 'version', timeout: '90s', interval: '250ms' },
    readiness: { url: 'http://{host}:8001/api/v1/ready' },
    chat: {
      url: 'http://{host}:8001/api/v1/conversation/chat',
      body: { user_id: 1, message: 'Mes dépenses du mois' },
      expectContains: ['response_text'],
      latencyBudget: '4s',
    },
    journal: { units: ['conversation-service', 'search-service'], priority: 'err', failPatterns: ['Traceback', 'CRITICAL'] },
    // the seed's go/no-go: latency P95 <= 4000 ms (and P99 watched)
    latency: { samples: 20, target: 'health', p95: '4s', p99: '5s' },
    disk: { minFreePercent: 10 },
  },
  policy: { autoRollback: true, confirm: false },
});
