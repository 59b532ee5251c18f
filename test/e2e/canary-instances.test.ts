/**
 * canary `instances` mode on one host over SSH (the seeds' own setup): the release as a second
 * instance beside the stable one, a real nginx splitting between the two ports, the real traffic
 * generator through nginx (`canary --traffic`), the gates over nginx's JSON access log (cohorts by
 * upstream address). The stable instance's process is watched: it must not restart before 100%.
 */
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { killTree } from '../support/processes.ts';
import { APP, INSTANCE_UNIT, STATE, startDeployFleet, UNIT, type DeployFleet } from '../support/deploy-fleet.ts';
import { startNginx, type Nginx } from '../support/nginx.ts';

const LOGS = '/srv/cutover-sbx/logs';
const LONG = 420_000; // a bake under real traffic, on a slow or busy machine
let f: DeployFleet;
let nginx: Nginx;
let include: string;
let original: string;

const onHost = async (script: string) => (await f.runner().exec(command(sh`bash -c ${script}`))).stdout.trim();
const mainPid = () => onHost(`systemctl show -p MainPID --value -- ${UNIT}`);
const instanceState = () => onHost(`systemctl is-active -- ${INSTANCE_UNIT} || true`);
const current = () => onHost(`readlink ${APP}/current`);
const versionOn = async (port: number) => {
  const h = f.fleet.hosts[0]!;
  const r = await fetch(`http://${h.address}:${port}/api/v1/health`).catch(() => null);
  return r ? ((await r.json()) as { version: string }).version : null;
};

const canaryState = async () => {
  const t = await onHost(`cat ${STATE}/canary.json 2>/dev/null || true`);
  return t ? (JSON.parse(t) as { phase: string; stepIndex: number; runId: string; hosts: { moved: boolean; release?: string }[] }) : null;
};

async function until(cond: () => Promise<boolean>, ms = 150_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function envText(o: { bake: string }): string {
  return `
  state: { lockTtl: '8s' },
  signals: {
    window: '20s',
    interval: '1s',
    sources: { lb: { kind: 'nginx', path: ${JSON.stringify(nginx.accessLog)}, on: 'local', cohortBy: { field: 'upstream' } } },
    metrics: {
      errors: { kind: 'errorRate', source: 'lb', where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
      p95: { kind: 'quantile', source: 'lb', field: 'latency_ms', q: 0.95, where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
    },
    gates: [
      { name: 'errors', metric: 'errors', max: 5, minSamples: 8 },
      { name: 'p95-vs-stable', metric: 'p95', maxIncrease: 250, minSamples: 8 },
    ],
    traffic: {
      corpus: 'sandbox/signals/corpus.yaml',
      request: { url: '${nginx.url}/api/v1/conversation/chat', body: { user_id: 'traffic', message: '{message}' }, timeout: '5s' },
      rate: '600/min',
      concurrency: 8,
    },
  },
  canary: {
    mode: 'instances', steps: [50, 100], bake: '${o.bake}', interval: '1s', smoke: { verify: true },
    nginx: { name: 'lb', transport: 'local', address: '127.0.0.1', include: ${JSON.stringify(include)}, upstream: 'app', appPort: ${f.appPort}, test: ${JSON.stringify(nginx.testCommand)}, reload: ${JSON.stringify(nginx.reloadCommand)} },
    instance: { unit: '${INSTANCE_UNIT}', port: ${f.secondPort}, sudo: true },
  },`;
}

beforeAll(async () => {
  f = await startDeployFleet({ hosts: 1, strategy: 'releases', canaryInstance: true, unitEnv: () => ({ DEMO_LOG_DIR: LOGS, DEMO_RATE_LIMIT: '1000/s' }) });
  const h = f.fleet.hosts[0]!;
  const lb = path.join(f.dir, 'lb');
  mkdirSync(lb);
  include = path.join(lb, 'upstream.conf');
  // nginx as the host has it before any canary: every request to the stable instance
  original = `upstream app {\n    server ${h.address}:${f.appPort};\n}\n`;
  writeFileSync(include, original);
  nginx = await startNginx({ dir: path.join(f.dir, 'nginx'), upstreams: [], include: `${lb}/*.conf` });
  f.editEnv((t) => t.replace('  policy: { autoRollback: true, confirm: false },', `  policy: { autoRollback: true, confirm: false },${envText({ bake: '3s' })}`));
}, LONG);

afterAll(async () => {
  await nginx?.stop();
  await f?.stop();
});

describe('canary, instances mode (one host, two instances, nginx between them)', () => {
  it('--dry-run: the second instance, the nginx file of each step, the take-over; nothing changes', async () => {
    const r = await f.task(['canary', 'v1.1.0', '--dry-run']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toContain(`runs as a second instance (${INSTANCE_UNIT}`);
    expect(text).toMatch(new RegExp(`systemctl restart -- ${INSTANCE_UNIT}`));
    expect(text).toMatch(new RegExp(`server ${f.fleet.hosts[0]!.address.replaceAll('.', '\\.')}:${f.secondPort} weight=1;`));
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(await instanceState()).toBe('inactive');
  }, LONG);

  it('a tag that degrades under traffic: the gates fail at 50%, every request back to the stable instance (never restarted), the second instance stopped (exit 1)', async () => {
    const pid = await mainPid();
    const before = await current();
    const r = await f.task(['canary', 'v1.6.1', '--traffic', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, phase: 'rolled-back' });
    expect(r.json.rollback_reason, r.stderr).toMatch(/^a gate failed: errors/);
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(await instanceState()).toBe('inactive');
    expect(await mainPid()).toBe(pid); // the stable instance served throughout, untouched
    expect(await current()).toBe(before);
    expect(await versionOn(f.appPort)).toBe('v1.0.0');
    // both instances served requests: the canary's through nginx, on its own port
    const upstreams = readFileSync(nginx.accessLog, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { upstream_addr: string }).upstream_addr);
    expect(upstreams).toContain(`${f.fleet.hosts[0]!.address}:${f.secondPort}`);
  }, LONG);

  it('a good tag: 50% then 100% on the second instance, then the stable instance takes it over and the second one stops (exit 0)', async () => {
    const r = await f.task(['canary', 'v1.1.0', '--traffic', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ success: true, phase: 'done', percent: 100 });
    expect(await current()).toMatch(/^releases\/\d{8}T\d{6}Z_v1\.1\.0$/);
    expect(await versionOn(f.appPort)).toBe('v1.1.0');
    expect(await instanceState()).toBe('inactive');
    expect(readFileSync(include, 'utf8')).toBe(original);
    const status = await f.task(['status', '--json']);
    expect(status.json.hosts[0].deployed.tag).toBe('v1.1.0');
  }, LONG);

  it('refused before anything changes: a second instance already running (exit 2, the unit named)', async () => {
    await onHost(`ln -sfn current ${APP}/canary && systemctl start -- ${INSTANCE_UNIT}`);
    try {
      const r = await f.task(['canary', 'v1.4.0']);
      expect(r.code).toBe(2);
      expect(r.stderr + r.stdout).toContain(`the second instance ${INSTANCE_UNIT} is already running`);
    } finally {
      await onHost(`systemctl stop -- ${INSTANCE_UNIT}; rm -f ${APP}/canary`);
    }
  }, LONG);

  it('a controller that dies mid-bake leaves both instances as they were; abort from another process moves the traffic back and stops the second instance (exit 1)', async () => {
    const pid = await mainPid();
    let child: ChildProcess | undefined;
    const first = f.task(['canary', 'v1.4.0', '--traffic'], { onOutput: (c) => (child = c) });
    await until(async () => (await canaryState())?.phase === 'baking');
    killTree(child!.pid!);
    await first;
    expect(await instanceState()).toBe('active'); // as the dead controller left it: nothing moved back behind anyone's back
    expect(readFileSync(include, 'utf8')).toContain(`:${f.secondPort} weight=`);
    await until(async () => /controller: NOT running/.test((await f.task(['canary', 'status'])).stdout), 20_000); // at once here (its pid is gone), after its TTL elsewhere
    const r = await f.task(['canary', 'abort', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ phase: 'rolled-back', percent: 0 });
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(await instanceState()).toBe('inactive');
    expect(await mainPid()).toBe(pid); // the abort did not restart the stable instance: it never changed
    expect(await versionOn(f.appPort)).toBe('v1.1.0');
  }, LONG);

  it('the take-over fails (the stable instance unhealthy on the release): it goes back to its release, verified, the traffic with it, the second instance stopped (exit 1)', async () => {
    const before = await current();
    // only the stable instance's unit is broken on v1.4.0 (read at its next start: the take-over's restart)
    appendFileSync(path.join(f.fleet.hosts[0]!.root, 'units', `${UNIT}.service`), 'Environment=DEMO_UNHEALTHY_ON=v1.4.0\n');
    const r = await f.task(['canary', 'v1.4.0', '--steps', '100', '--traffic', '--json']); // one step: what is tested is the take-over
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, phase: 'rolled-back' });
    expect(r.json.decisions.filter((d: { action: string }) => d.action === 'promote')).toHaveLength(1); // 100% passed on the second instance
    expect(await current()).toBe(before);
    expect(await versionOn(f.appPort)).toBe('v1.1.0');
    expect(await instanceState()).toBe('inactive');
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(r.stderr).toMatch(/back on v1\.1\.0, verified; demo-chat-canary stopped/);
  }, LONG);
});
