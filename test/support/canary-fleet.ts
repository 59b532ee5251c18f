/**
 * A deploy fleet set up for canaries: every host's demo service writes its request log, the
 * environment reads them (one JSONL source over SSH, cohorts by host), gates that a degraded
 * release breaks quickly, and a canary section with bakes of seconds. Traffic comes from the real
 * generator (tasks/traffic.ts --each-host), run as a process.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { startDeployFleet, type DeployFleet } from './deploy-fleet.ts';

export const LOGS = '/srv/cutover-sbx/logs';

export interface CanaryOptions {
  readonly hosts?: number;
  readonly mode?: 'subset';
  /** The canary section's body (after `mode`). */
  readonly canary?: string;
  /** Extra gates (TypeScript object literals, comma-separated). */
  readonly gates?: string;
  readonly extra?: string;
}

export function canaryEnvText(appPort: number, o: CanaryOptions): string {
  return `
  state: { lockTtl: '8s' },
  signals: {
    window: '20s',
    interval: '1s',
    sources: { requests: { kind: 'jsonl', path: '${LOGS}/predictions_{date}.jsonl', on: 'hosts', cohortBy: 'host' } },
    metrics: {
      errors: { kind: 'errorRate', source: 'requests' },
      p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 },
      requests: { kind: 'count', source: 'requests' },
    },
    gates: [
      { name: 'errors', metric: 'errors', max: 5, minSamples: 8 },
      { name: 'p95-vs-stable', metric: 'p95', maxIncrease: 250, minSamples: 8 },
      ${o.gates ?? ''}
    ],
    traffic: {
      corpus: 'sandbox/signals/corpus.yaml',
      request: { url: 'http://{host}:${appPort}/api/v1/conversation/chat', body: { user_id: 'traffic', message: '{message}' }, timeout: '5s' },
      rate: '480/min',
      concurrency: 8,
    },
  },
  canary: { mode: '${o.mode ?? 'subset'}', ${o.canary ?? "steps: [25, 50, 100], bake: '4s', interval: '1s', smoke: { verify: true }"} },
  ${o.extra ?? ''}`;
}

export async function startCanaryFleet(o: CanaryOptions = {}): Promise<DeployFleet> {
  // the request log of each host's demo service: /srv/cutover-sbx/logs, its own folder (mount namespace)
  let f: DeployFleet | null = null;
  f = await startDeployFleet({ hosts: o.hosts ?? 4, unitEnv: () => ({ DEMO_LOG_DIR: LOGS, DEMO_RATE_LIMIT: '1000/s' }) });
  const port = f.appPort;
  f.editEnv((t) => t.replace("  policy: { autoRollback: true, confirm: false },", `  policy: { autoRollback: true, confirm: false },${canaryEnvText(port, o)}`));
  return f;
}

/** The traffic generator, to every host in turn, for `seconds` (stopped by the caller, or at its end). */
export function startTraffic(f: DeployFleet, seconds: number): ChildProcess {
  return spawn(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), [path.join(REPO_ROOT, 'tasks/traffic.ts'), '--env', f.envName, '--each-host', '--duration', `${seconds}s`, '--seed', '7'], {
    cwd: REPO_ROOT, // the corpus path is relative to the repository
    env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: f.envDir, SBX_SSH_KEY: f.fleet.clientKeyPath, SBX_DB_PASSWORD: 'not-needed-trust-auth', NO_COLOR: '1' },
    stdio: 'ignore',
  });
}

export function stopTraffic(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    p.once('close', () => done());
    p.kill('SIGINT');
  });
}
