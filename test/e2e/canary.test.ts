/**
 * canary in subset mode on 4 sandbox hosts over SSH, judged by gates over the demo service's real
 * request logs, with the real traffic generator sending requests to every host: a good tag promotes
 * through every step; a release that degrades under traffic rolls back at the first step on its
 * error rate, with the gate that failed; --replay over the log it left decides the same offline.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { LOGS, startCanaryFleet, startTraffic, stopTraffic } from '../support/canary-fleet.ts';
import { hostHistory, lockFile, STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';

let f: DeployFleet | undefined;
let traffic: ChildProcess | undefined;
// a canary bakes, judges and deploys in steps: these tests run for tens of seconds each
const LONG = 420_000; // a bake under real traffic, on a slow or busy machine

afterEach(async () => {
  await stopTraffic(traffic);
  traffic = undefined;
  await f?.stop();
  f = undefined;
});

const canaryJson = async (fleet: DeployFleet) => JSON.parse((await fleet.runner().exec(command(sh`cat ${`${STATE}/canary.json`}`))).stdout);
const tags = (fleet: DeployFleet) => Promise.all(fleet.fleet.hosts.map((h) => tagOn(fleet, h)));

describe('canary, subset mode, 4 hosts', () => {
  it('a good tag is promoted step by step (1, 2, then 4 hosts) while traffic flows; history, state and report say so', async () => {
    f = await startCanaryFleet();
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.1.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await tags(f)).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(r.json).toMatchObject({ success: true, rollback_triggered: false, rollback_reason: null, phase: 'done', percent: 100 });
    expect(r.json.decisions.filter((d: { action: string }) => d.action === 'promote').map((d: { step: number }) => d.step)).toEqual([0, 1, 2]);
    expect(r.json.smoke.every((s: { ok: boolean }) => s.ok)).toBe(true);
    const state = await canaryJson(f);
    expect(state).toMatchObject({ phase: 'done', tag: 'v1.1.0', stepIndex: 2 });
    const history = await hostHistory(f);
    expect(history.slice(-2)).toMatchObject([{ type: 'started', task: 'canary', to: 'v1.1.0' }, { type: 'finished', task: 'canary', result: 'deployed', live: 'v1.1.0' }]);
    expect(await lockFile(f)).toBeNull();
    const md = readFileSync(r.json.report.mdPath, 'utf8');
    expect(md).toContain('## Canary steps');
    expect(md).toContain('```mermaid');
    expect(r.stderr).toMatch(/canary of v1\.1\.0 on sbx: PROMOTED/);
  }, LONG);

  it('a release that degrades under traffic rolls back at the first step on its error rate: traffic off, hosts back, verified (exit 1); --replay decides the same offline', async () => {
    f = await startCanaryFleet({ canary: "steps: [25, 50, 100], bake: '30s', interval: '1s', smoke: { verify: true }" });
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.6.1', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, phase: 'rolled-back', percent: 0 });
    expect(r.json.rollback_reason, r.stderr).toMatch(/^a gate failed: errors fail/);
    expect(r.json.metrics_delta.errors.canary).toBeGreaterThan(5);
    expect(r.json.decisions.some((d: { action: string }) => d.action === 'promote')).toBe(false);
    expect(await tags(f)).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0']);
    expect(r.json.hosts[0]).toMatchObject({ name: 'host1', moved: false, stage: 'rolled-back' });
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', task: 'canary', result: 'rolled-back', live: 'v1.0.0' });
    expect(r.stderr).toMatch(/ROLLED BACK: a gate failed: errors/);

    // the request log host1 wrote during the canary, judged again offline
    const today = new Date().toISOString().slice(0, 10);
    const log = (await f.runner().exec(command(sh`cat ${`${LOGS}/predictions_${today}.jsonl`}`))).stdout;
    const file = path.join(f.dir, 'recorded.jsonl');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, log);
    const replay = await f.task(['canary', 'v1.6.1', '--replay', file, '--json']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(1);
    expect(replay.json.outcome).toBe('rolled back');
    expect(replay.json.reason).toMatch(/errors fail/);
    expect(existsSync(file)).toBe(true);
  }, LONG);

  it('a critical gate rolls back at once, whatever its clock says', async () => {
    f = await startCanaryFleet({
      gates: "{ name: 'any-5xx', metric: 'errors', max: 0, for: '10m', severity: 'critical', minSamples: 1 },",
      canary: "steps: [25, 100], bake: '60s', interval: '1s', gates: ['any-5xx'], smoke: { verify: true }",
    });
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.6.1', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.rollback_reason, r.stderr).toMatch(/^a gate failed: any-5xx fail/);
    const rollback = r.json.decisions.find((d: { action: string }) => d.action === 'rollback');
    const first = r.json.decisions[0];
    expect(Date.parse(rollback.at) - Date.parse(first.at)).toBeLessThan(60_000); // long before the 10m clock, and the bake
    expect(await tags(f)).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0']);
  }, LONG);

  it('--dry-run runs the real graph against recorders: the deploys, the smoke checks, the gates of every step; nothing changes', async () => {
    f = await startCanaryFleet();
    const r = await f.task(['canary', 'v1.1.0', '--dry-run']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('steps: 25% for 4s -> 50% for 4s -> 100% for 4s, judged every 1s');
    expect(r.stdout).toMatch(/\[host1\] git -C \S+ -c advice.detachedHead=false checkout --quiet --detach 'refs\/tags\/v1\.1\.0\^\{commit\}'/);
    expect(r.stdout).toMatch(/\[host4\] git -C \S+ -c advice.detachedHead=false checkout/); // the last step moves every host
    expect(r.stdout).toContain('[gates] every 1s for 4s: errors, p95-vs-stable — canary (host1) against stable (host2, host3, host4)');
    expect(r.stdout).toContain('DRY RUN: nothing was changed');
    expect(await tags(f)).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0', 'v1.0.0']);
    expect((await f.runner().exec(command(sh`test -e ${`${STATE}/canary.json`}`))).code).toBe(1);
    expect(await lockFile(f)).toBeNull();
  }, LONG);
});
