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
const chatUrl = `http://127.0.0.1:${appPort}/api/v1/conversation/chat`;
// a Prometheus scraping the sandbox (see docs/signals.md): its gates only when one is there
const promUrl = process.env.CUTOVER_SANDBOX_PROM_URL;

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
      latencyBudget: '2.5s', // a healthy chat answers in ms, 1 s or more on a busy machine; the slow-chat release takes 4 s
    },
    journal: { priority: 'err', failPatterns: ['Traceback'] },
    // tasks/verify.ts: latency percentiles over 20 health requests, and the production checklist's probes
    latency: { samples: 20, p50: '100ms', p95: '500ms', p99: '1s' },
    hardening: { oversizedBody: true, rateLimit: { requests: 30, userId: 'cutover-probe' }, readinessDependencies: ['database'] },
  },
  policy: { autoRollback: true, confirm: false },
  // tasks/slo.ts, traffic.ts, validate.ts: the demo service's request log (one JSON line per chat, the
  // seed's shape) and the seed's go/no-go criteria (docs/signals.md)
  signals: {
    window: '15m',
    interval: '1m',
    sources: {
      requests: { kind: 'jsonl', path: path.join(root, 'host/logs/predictions_{date}.jsonl'), on: 'hosts', cohortBy: { field: 'version' } },
      ...(promUrl ? { prometheus: { kind: 'prometheus' as const, url: promUrl } } : {}),
    },
    cohorts: { stable: ['v1.1.0'], canary: ['v1.6.0'] },
    metrics: {
      'linear-head': { kind: 'share', source: 'requests', field: 'route', equals: 'linear_head' },
      regex: { kind: 'share', source: 'requests', field: 'route', equals: 'regex' },
      p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 },
      p99: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.99 },
      'tie-break': { kind: 'share', source: 'requests', field: 'prediction.rule_applied', present: true },
      'low-confidence': { kind: 'share', source: 'requests', field: 'prediction.low_confidence', equals: true },
      errors: { kind: 'errorRate', source: 'requests' },
      requests: { kind: 'rate', source: 'requests' },
      ...(promUrl
        ? { 'golden-mismatch': { kind: 'increase' as const, source: 'prometheus', series: 'golden_mismatch_total{version=~"{cohort}"}' } }
        : {}),
    },
    gates: [
      // seed: GO when linear head >= 90%, regex <= 1%, P95 <= 200 ms, tie-break <= 5%, low confidence <= 25%;
      // roll back when breached for more than 15 minutes: linear < 90%, regex > 2%, P95 > 250 ms
      { name: 'linear-head', metric: 'linear-head', min: 90, for: '15m', minSamples: 20 },
      { name: 'regex-fallback', metric: 'regex', max: 2, warn: { max: 1 }, for: '15m', minSamples: 20 },
      { name: 'p95-latency', metric: 'p95', max: 250, warn: { max: 200 }, for: '15m', minSamples: 20 },
      { name: 'tie-break', metric: 'tie-break', max: 10, warn: { range: [0.5, 5] }, minSamples: 20 },
      { name: 'low-confidence', metric: 'low-confidence', max: 30, warn: { max: 25 }, minSamples: 20 },
      // a spike of 5xx fails at once (the canary guide's critical alerts); against a baseline cohort +50% warns
      { name: 'errors', metric: 'errors', max: 5, warn: { maxIncreasePct: 50 }, minSamples: 20, test: { kind: 'fisher' } },
      ...(promUrl ? [{ name: 'golden-mismatch', metric: 'golden-mismatch', max: 0, severity: 'critical' as const, onUnavailable: 'warn' as const }] : []),
    ],
    traffic: {
      corpus: 'sandbox/signals/corpus.yaml',
      request: { url: chatUrl, body: { user_id: 'traffic', message: '{message}' }, timeout: '10s' },
      rate: '20/min',
      burstEvery: '120s',
      burstSize: 5,
      jitter: '300ms',
      piiMaxPerMin: 2,
      concurrency: 8,
    },
    validation: {
      questions: 'sandbox/signals/questions.yaml',
      request: { url: chatUrl, body: { user_id: 1, message: '{message}' } },
      concurrency: 4,
      criteria: { minSuccessRate: 95, maxP95: '4s', no5xx: true },
    },
  },
});
