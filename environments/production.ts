/**
 * Production, modelled on the seed release plan (one EC2 host running conversation-service and
 * search-service behind PostgreSQL). Every change waits for the operator to type "production"
 * (policy.confirm). Addresses are documentation addresses (RFC 5737): replace them with yours.
 * Running it needs the secrets in .env (see .env.example).
 */
import { defineEnvironment } from '../tasks/lib/config/schema.ts';

export default defineEnvironment({
  description: 'Production: one EC2 host, conversation-service + search-service',
  hosts: [{ name: 'production-1', address: '203.0.113.20', user: 'ec2-user', instanceId: 'i-0f1e2d3c4b5a69788' }],
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
  database: { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena', password: { env: 'CUTOVER_PRODUCTION_DB_PASSWORD' }, dumpOn: 'host' },
  backups: { keep: 30 },
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
  // The seeds' judgement (docs/signals.md): the request log on the host (one JSON line per request), nginx's
  // JSON access log (per upstream), Prometheus. Validated, never contacted by the tests.
  signals: {
    window: '15m',
    interval: '1m',
    sources: {
      requests: { kind: 'jsonl', path: '/home/ec2-user/harena/logs/predictions/predictions_{date}.jsonl', on: 'hosts', cohortBy: { field: 'version' } },
      nginx: { kind: 'nginx', path: '/var/log/nginx/conversation.access.json', on: 'hosts' },
      prometheus: { kind: 'prometheus', url: 'http://203.0.113.20:9090', timeout: '5s' },
    },
    cohorts: { stable: ['v3.2.6.2'], canary: ['v3.2.7'] },
    metrics: {
      'linear-head': { kind: 'share', source: 'requests', field: 'route', equals: 'linear_head' },
      regex: { kind: 'share', source: 'requests', field: 'route', equals: 'regex' },
      'tie-break': { kind: 'share', source: 'requests', field: 'prediction.rule_applied', present: true },
      'low-confidence': { kind: 'share', source: 'requests', field: 'prediction.low_confidence', equals: true },
      p95: { kind: 'quantile', source: 'nginx', field: 'latency_ms', q: 0.95, where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
      errors: { kind: 'errorRate', source: 'nginx' },
      'golden-mismatch': { kind: 'increase', source: 'prometheus', series: 'nova_golden_mismatch_total{version=~"{cohort}"}' },
      'dimension-mismatch': { kind: 'increase', source: 'prometheus', series: 'proto_dimension_mismatch_total{version=~"{cohort}"}' },
    },
    gates: [
      // release plan T4.7: P95 < 4000 ms; error rate < 5% (alert > 10%); canary guide: regex > 2% for 15 min rolls back
      { name: 'p95-latency', metric: 'p95', max: 4000, warn: { maxIncreasePct: 20 }, for: '15m', minSamples: 50, test: { kind: 'mann-whitney' } },
      { name: 'errors', metric: 'errors', max: 10, warn: { max: 5 }, minSamples: 50 },
      { name: 'errors-vs-stable', metric: 'errors', maxIncreasePct: 50, minSamples: 50, test: { kind: 'two-proportion', confidence: 0.95 } },
      { name: 'linear-head', metric: 'linear-head', min: 90, for: '15m', minSamples: 50 },
      { name: 'regex-fallback', metric: 'regex', max: 2, warn: { max: 1 }, for: '15m', minSamples: 50 },
      { name: 'tie-break', metric: 'tie-break', max: 10, warn: { range: [0.5, 5] }, minSamples: 50 },
      { name: 'low-confidence', metric: 'low-confidence', max: 30, warn: { max: 25 }, minSamples: 50 },
      // canary playbook: golden mismatch increased -> immediate rollback; Prometheus unavailable -> continue (warn)
      { name: 'golden-mismatch', metric: 'golden-mismatch', max: 0, severity: 'critical', onUnavailable: 'warn' },
      { name: 'dimension-mismatch', metric: 'dimension-mismatch', max: 0, severity: 'critical', onUnavailable: 'warn' },
    ],
    validation: {
      questions: 'sandbox/signals/questions.yaml',
      request: { url: 'http://203.0.113.20:8001/api/v1/conversation/chat', body: { user_id: 1, message: '{message}' }, timeout: '10s' },
      concurrency: 4,
      // release plan: GO when success >= 95%, P95 <= 4000 ms, no 500
      criteria: { minSuccessRate: 95, maxP95: '4s', no5xx: true },
    },
  },
  policy: { autoRollback: true, confirm: true },
});
