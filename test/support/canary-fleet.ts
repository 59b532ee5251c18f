/**
 * A deploy fleet set up for canaries: every host's demo service writes its request log, the
 * environment reads them (one JSONL source over SSH, cohorts by host), gates that a degraded
 * release breaks quickly, and a canary section with bakes of seconds. Traffic comes from the real
 * generator (tasks/traffic.ts --each-host), run as a process.
 *
 * flags mode: every host's service reads its feature flags from FLAGS_FILE (written off on every
 * host at start), and the canary turns FEATURE on there; the sign-off file is created on the hosts
 * `signedOff` names (default all).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { startDeployFleet, type DeployFleet } from './deploy-fleet.ts';
import { taskProcess } from './task-process.ts';
import type { SshHost } from './sshd.ts';

export const LOGS = '/srv/cutover-sbx/logs';
/** flags mode: the flag file every host's service reads (outside the app's working copy), and its sign-off. */
export const FLAGS_FILE = '/srv/cutover-sbx/flags/flags.json';
export const SIGNOFF = '/srv/cutover-sbx/flags/SIGNED-OFF';
/** The flag v1.7.0 ships its degradation behind. */
export const FEATURE = '/features/new_ranker/enabled';
/** The flag file as the hosts have it before a canary: every feature off, hand-formatted. */
export const FLAGS_OFF = '{\n  "service": "demo-chat",\n  "features": {\n    "new_ranker": { "enabled": false, "model": "v2" }\n  }\n}\n';

export interface CanaryOptions {
  readonly hosts?: number;
  readonly mode?: 'subset' | 'flags';
  /** flags mode: the hosts (by index) that have the sign-off file (default every host). */
  readonly signedOff?: readonly number[];
  /** flags mode: what happens after a flag file changed (default 'none': the service sees the new file itself). */
  readonly after?: 'restart' | 'reload' | 'none';
  /** flags mode, after: 'reload': the command run on a host after its file changed. */
  readonly reload?: string;
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
  canary: { mode: '${o.mode ?? 'subset'}', ${o.canary ?? "steps: [25, 50, 100], bake: '4s', interval: '1s', smoke: { verify: true }"}${o.mode === 'flags' ? `, ${flagsSection(o)}` : ''} },
  ${o.extra ?? ''}`;
}

/** The canary's `flags` key: FEATURE in FLAGS_FILE, the sign-off, `after`. */
export function flagsSection(o: Pick<CanaryOptions, 'after' | 'reload'>): string {
  const reload = o.reload ? `, reload: ${JSON.stringify(o.reload)}` : '';
  return `flags: { file: '${FLAGS_FILE}', flags: [{ pointer: '${FEATURE}', on: true, off: false }], signoff: '${SIGNOFF}', after: '${o.after ?? 'none'}'${reload} }`;
}

/** Where a host's copy of a file under /srv/cutover-sbx is on this machine (each host's folder is mounted there). */
export const onHost = (h: SshHost, file: string) => path.join(h.root, 'srv', path.relative('/srv/cutover-sbx', file));

/** The flag file on each host, as bytes on disk. */
export const flagFiles = (f: DeployFleet) => f.fleet.hosts.map((h) => readFileSync(onHost(h, FLAGS_FILE), 'utf8'));

/** FEATURE's value on each host. */
export const featureOn = (f: DeployFleet) => flagFiles(f).map((t) => (JSON.parse(t) as { features: { new_ranker: { enabled: unknown } } }).features.new_ranker.enabled);

export async function startCanaryFleet(o: CanaryOptions = {}): Promise<DeployFleet> {
  // the request log of each host's demo service: /srv/cutover-sbx/logs, its own folder (mount namespace)
  let f: DeployFleet | null = null;
  const flags: Record<string, string> = o.mode === 'flags' ? { DEMO_FLAGS_FILE: FLAGS_FILE } : {};
  f = await startDeployFleet({ hosts: o.hosts ?? 4, unitEnv: () => ({ DEMO_LOG_DIR: LOGS, DEMO_RATE_LIMIT: '1000/s', ...flags }) });
  if (o.mode === 'flags')
    for (const [i, h] of f.fleet.hosts.entries()) {
      mkdirSync(path.dirname(onHost(h, FLAGS_FILE)), { recursive: true });
      writeFileSync(onHost(h, FLAGS_FILE), FLAGS_OFF);
      if (!o.signedOff || o.signedOff.includes(i)) writeFileSync(onHost(h, SIGNOFF), 'shadow run reviewed\n');
    }
  const port = f.appPort;
  f.editEnv((t) => t.replace("  policy: { autoRollback: true, confirm: false },", `  policy: { autoRollback: true, confirm: false },${canaryEnvText(port, o)}`));
  return f;
}

/** The traffic generator, to every host in turn, for `seconds` (stopped by the caller, or at its end). */
export function startTraffic(f: DeployFleet, seconds: number): ChildProcess {
  const run = taskProcess('traffic', ['--env', f.envName, '--each-host', '--duration', `${seconds}s`, '--seed', '7']);
  return spawn(run.command, run.args, {
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

