/**
 * The local canary fleet: three sandbox hosts on this machine (sandbox-a, -b, -c), each running the
 * bundled demo chat service on its own loopback address, behind a real nginx whose upstream the
 * canary rewrites (tasks/canary.ts). Created on first use in the git-ignored folder .sandbox-canary/
 * (docs/sandbox.md). Every host shares one app.path, as real servers do: each host's commands run in
 * their own mount namespace where the host's own folder is mounted at that path (`hosts[].mount`).
 * Without nginx installed the fleet still runs, and the canary uses `subset` mode.
 */
import path from 'node:path';
import { FLEET_DATABASE, fleetLayout } from '../sandbox/fleet-layout.ts';
import { findNginx, nginxCommands, nginxFiles, UPSTREAM } from '../sandbox/nginx.ts';
import { findPgBinDir } from '../sandbox/postgres.ts';
import { defineEnvironment, type EnvironmentInput } from '../tasks/lib/config/schema.ts';

export interface LocalCanaryOptions {
  /** The fleet's folder. */
  root: string;
  /** The PostgreSQL cluster's folder: the local sandbox's (one server for both; the fleet has its own database). */
  pgDir: string;
  /** The port every host's service listens on (each host on its own address). */
  appPort: number;
  pgPort: number;
  nginxPort: number;
  /** The nginx binary, or null: no load balancer, `subset` canary. */
  nginx: string | null;
  withDatabase: boolean;
  backupsDir?: string;
}

/** The environment for a fleet in `root` (the tests build one in a temporary folder with their own ports). */
export function localCanary(o: LocalCanaryOptions): EnvironmentInput {
  const layout = fleetLayout(o.root);
  const lb = nginxFiles(layout.nginxDir);
  const lbUrl = `http://127.0.0.1:${o.nginxPort}`;
  const hostUrl = (p: string) => `http://{host}:${o.appPort}${p}`;
  const upstreamOf = (i: number) => `${layout.hosts[i]!.address}:${o.appPort}`;
  // the request log is under the shared path: each host's own, read here at that host's folder (LocalLogPlace with mount)
  const requests = { kind: 'jsonl' as const, path: path.join(layout.logDir, 'predictions_{date}.jsonl'), on: 'hosts' as const, cohortBy: 'host' as const };
  const errors = o.nginx ? 'lb-errors' : 'errors';
  return {
    description: 'Built-in canary fleet: the demo chat service on three local hosts behind nginx (v1.6.0 passes deploy verification, then degrades)',
    // nginxPort even without nginx: the sandbox then says how to install it
    sandbox: { kind: 'fleet', root: o.root, appPort: o.appPort, pgPort: o.pgPort, pgDir: o.pgDir, nginxPort: o.nginxPort },
    hosts: layout.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      transport: 'local' as const,
      pathPrefix: [h.bin],
      mount: { source: h.mountSource, target: layout.shared },
    })),
    app: {
      path: layout.appPath,
      repo: layout.origin,
      strategy: 'in-place',
      install: ['bash install.sh'],
      migrate: o.withDatabase ? ['bash migrate.sh'] : [],
      migrationsDir: 'migrations',
    },
    services: [{ unit: 'demo-chat', sudo: false }],
    ...(o.withDatabase ? { database: { name: FLEET_DATABASE, host: '127.0.0.1', port: o.pgPort, user: 'cutover', dumpOn: 'host' as const } } : {}),
    backups: { keep: 5, ...(o.backupsDir ? { dir: o.backupsDir } : {}) },
    verify: {
      health: { url: hostUrl('/api/v1/health'), versionField: 'version', timeout: '15s', interval: '150ms' },
      readiness: { url: hostUrl('/api/v1/ready') },
      chat: { url: hostUrl('/api/v1/conversation/chat'), body: { user_id: 1, message: 'Mes dépenses du mois' }, expectContains: ['response_text'], latencyBudget: '2.5s' }, // ms when idle, over 1 s on a busy machine
      journal: { priority: 'err', failPatterns: ['Traceback'] },
      latency: { samples: 20, p50: '100ms', p95: '500ms', p99: '1s' },
    },
    policy: { autoRollback: true, confirm: false },
    signals: {
      window: '15m',
      interval: '1m',
      sources: {
        requests,
        // nginx's JSON access log on this machine, one cohort per upstream server (host address:port)
        ...(o.nginx ? { lb: { kind: 'nginx' as const, path: lb.accessLog, on: 'local' as const, cohortBy: { field: 'upstream' } } } : {}),
      },
      // sandbox-a is the canary host (canary.canaryHosts: 1); a cohort lists its host name (request log) and its upstream (nginx)
      cohorts: {
        canary: [layout.hosts[0]!.name, upstreamOf(0)],
        stable: [layout.hosts[1]!.name, layout.hosts[2]!.name, upstreamOf(1), upstreamOf(2)],
      },
      metrics: {
        'linear-head': { kind: 'share', source: 'requests', field: 'route', equals: 'linear_head' },
        regex: { kind: 'share', source: 'requests', field: 'route', equals: 'regex' },
        p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 },
        'tie-break': { kind: 'share', source: 'requests', field: 'prediction.rule_applied', present: true },
        'low-confidence': { kind: 'share', source: 'requests', field: 'prediction.low_confidence', equals: true },
        errors: { kind: 'errorRate', source: 'requests' },
        ...(o.nginx
          ? {
              'lb-errors': { kind: 'errorRate' as const, source: 'lb', where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
              'lb-p95': { kind: 'quantile' as const, source: 'lb', field: 'latency_ms', q: 0.95, where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
              'lb-requests': { kind: 'rate' as const, source: 'lb' },
            }
          : {}),
      },
      gates: [
        // the seed's criteria (environments/local.ts), over each host's request log
        { name: 'linear-head', metric: 'linear-head', min: 90, for: '15m', minSamples: 20 },
        { name: 'regex-fallback', metric: 'regex', max: 2, warn: { max: 1 }, for: '15m', minSamples: 20 },
        { name: 'p95-latency', metric: 'p95', max: 250, warn: { max: 200 }, for: '15m', minSamples: 20 },
        { name: 'tie-break', metric: 'tie-break', max: 10, warn: { range: [0.5, 5] }, minSamples: 20 },
        { name: 'low-confidence', metric: 'low-confidence', max: 30, warn: { max: 25 }, minSamples: 20 },
        // a spike of 5xx fails at once; against the stable cohort, +50% fails when the difference is significant
        { name: 'errors', metric: errors, max: 5, minSamples: 20 },
        { name: 'errors-vs-stable', metric: errors, maxIncreasePct: 50, minSamples: 20, test: { kind: 'fisher' } },
        ...(o.nginx
          ? [
              { name: 'p95-vs-stable', metric: 'lb-p95', maxIncrease: 200, minSamples: 20 },
              // the same over the hosts' request logs: what `canary --replay` can judge from them
              { name: 'app-errors-vs-stable', metric: 'errors', maxIncreasePct: 50, minSamples: 20, test: { kind: 'fisher' as const } },
            ]
          : []),
      ],
      traffic: {
        corpus: 'sandbox/signals/corpus.yaml',
        // through the load balancer (or, without nginx, to the first host; --each-host spreads it)
        request: { url: o.nginx ? `${lbUrl}/api/v1/conversation/chat` : hostUrl('/api/v1/conversation/chat'), body: { user_id: 'traffic', message: '{message}' }, timeout: '10s' },
        rate: '600/min',
        jitter: '50ms',
        concurrency: 8,
      },
      validation: {
        questions: 'sandbox/signals/questions.yaml',
        request: { url: hostUrl('/api/v1/conversation/chat'), body: { user_id: 1, message: '{message}' } },
        concurrency: 4,
        criteria: { minSuccessRate: 95, maxP95: '4s', no5xx: true },
      },
    },
    // tasks/canary.ts: the demo's settings (bakes of seconds; see docs/sandbox.md). A step judges only
    // its own requests, a few dozen: the gates on errors and latency, not the seed's 15-minute shares
    canary: o.nginx
      ? {
          mode: 'nginx',
          steps: [20, 50, 100],
          // the first step, with the fewest requests on the canary, bakes longest
          bake: ['30s', '10s', '10s'],
          interval: '2s',
          gates: ['errors', 'errors-vs-stable', 'p95-latency', 'p95-vs-stable', 'app-errors-vs-stable'],
          canaryHosts: 1,
          cohortBy: 'upstream',
          nginx: { name: 'lb', transport: 'local', address: '127.0.0.1', include: lb.include, upstream: UPSTREAM, appPort: o.appPort, ...nginxCommands(o.nginx, lb) },
        }
      : { mode: 'subset', steps: [20, 50, 100], bake: ['30s', '10s', '10s'], interval: '2s', cohortBy: 'host', gates: ['errors', 'errors-vs-stable', 'p95-latency'] },
  };
}

const clone = path.resolve(import.meta.dirname, '..');

export default defineEnvironment(
  localCanary({
    root: path.join(clone, '.sandbox-canary'),
    pgDir: path.join(clone, '.sandbox', 'pg'),
    appPort: Number(process.env.CUTOVER_SANDBOX_CANARY_PORT || 18101),
    pgPort: Number(process.env.CUTOVER_SANDBOX_PG_PORT || 54329),
    nginxPort: Number(process.env.CUTOVER_SANDBOX_NGINX_PORT || 18180),
    nginx: findNginx(),
    withDatabase: findPgBinDir() !== null,
  }),
);
