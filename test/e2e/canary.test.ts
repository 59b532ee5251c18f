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
const LONG = 150_000;

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
    expect(md).toContain('## Steps');
    expect(md).toContain('```mermaid');
    expect(r.stderr).toMatch(/canary of v1\.1\.0 on sbx: PROMOTED/);
  }, LONG);

  it('a release that degrades under traffic rolls back at the first step on its error rate: traffic off, hosts back, verified (exit 1); --replay decides the same offline', async () => {
    f = await startCanaryFleet({ canary: "steps: [25, 50, 100], bake: '30s', interval: '1s', smoke: { verify: true }" });
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.6.1', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, phase: 'rolled-back', percent: 0 });
    expect(r.json.rollback_reason).toMatch(/^a gate failed: errors fail/);
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
});
