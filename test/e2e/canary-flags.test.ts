/**
 * canary in flags mode on 4 sandbox hosts over SSH: the release already runs everywhere (deployed
 * first, its feature off), and each step turns a feature flag on in the JSON file every host's demo
 * service reads. Refused without the sign-off on a host (exit 2, nothing changed); a good flag is
 * turned on host by host (each host's service restarted as its flag changes) and promoted; a flag
 * that degrades the service under real traffic fails a gate and is reverted on every host (exit 1).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { killTree } from '../support/processes.ts';
import { FLAGS_OFF, featureOn, flagFiles, onHost, SIGNOFF, startCanaryFleet, startTraffic, stopTraffic } from '../support/canary-fleet.ts';
import { hostHistory, lockFile, STATE, tagOn, UNIT, type DeployFleet } from '../support/deploy-fleet.ts';

let f: DeployFleet | undefined;
let traffic: ChildProcess | undefined;
// a canary bakes, judges and deploys in steps: these tests run for tens of seconds each
const LONG = 420_000; // a bake under real traffic, on a slow or busy machine
const FLAGS_ON = FLAGS_OFF.replace('"enabled": false', '"enabled": true');

afterEach(async () => {
  await stopTraffic(traffic);
  traffic = undefined;
  await f?.stop();
  f = undefined;
});

const canaryJson = async (fleet: DeployFleet) => {
  const r = await fleet.runner().exec(command(sh`cat ${`${STATE}/canary.json`}`));
  return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : null;
};
const tags = (fleet: DeployFleet) => Promise.all(fleet.fleet.hosts.map((h) => tagOn(fleet, h)));
const pids = (fleet: DeployFleet) => fleet.fleet.hosts.map((h) => readFileSync(path.join(h.root, 'run', `${UNIT}.pid`), 'utf8').trim());

/** Polls `cond` every 100 ms until it holds (or fails the test after `ms`). */
async function until(cond: () => boolean, ms = 150_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The release on every host, its feature off: what flags mode starts from. */
async function deployed(fleet: DeployFleet, tag: string): Promise<void> {
  const d = await fleet.task(['deploy', tag, '--yes']);
  expect(d.code, d.stdout + d.stderr).toBe(0);
  expect(await tags(fleet)).toEqual([tag, tag, tag, tag]);
}

/** Every distinct state of the flag on the hosts, in order, until stopped (polled: each state lasts a bake at least). */
function watchFlags(fleet: DeployFleet): { stop: () => Promise<string[]> } {
  const seen: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = featureOn(fleet).map((v) => (v === true ? 'on' : 'off')).join(' ');
      if (seen.at(-1) !== now) seen.push(now);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe('canary, flags mode, 4 hosts', () => {
  it('refused before anything changes: hosts not on the release, then a host without the sign-off (exit 2, the host and the file named)', async () => {
    f = await startCanaryFleet({ mode: 'flags', signedOff: [0, 1, 3], after: 'restart' });
    const first = await f.task(['canary', 'v1.7.0', '--json']);
    expect(first.code, first.stdout + first.stderr).toBe(2);
    expect(first.stdout + first.stderr).toContain('flags mode turns flags on in a release the hosts already run; these do not run v1.7.0: host1 (v1.0.0');
    expect(first.stdout + first.stderr).toContain('npx tsx tasks/deploy.ts v1.7.0 --env sbx');

    await deployed(f, 'v1.7.0');
    const before = flagFiles(f);
    const history = await hostHistory(f);
    const r = await f.task(['canary', 'v1.7.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const out = r.stdout + r.stderr;
    expect(out).toContain('the flags traffic cannot be moved, nothing was changed');
    expect(out).toContain(`sign-off missing: ${SIGNOFF} does not exist on host3; nothing was changed`);
    expect(out).not.toMatch(/does not exist on [^;]*host[124]/);
    // nothing changed: the flag files byte for byte, no lock, no canary recorded, no run in the history
    expect(flagFiles(f)).toEqual(before);
    expect(before).toEqual([FLAGS_OFF, FLAGS_OFF, FLAGS_OFF, FLAGS_OFF]);
    expect(await lockFile(f)).toBeNull();
    expect(await canaryJson(f)).toBeNull();
    expect(await hostHistory(f)).toEqual(history);
    expect(await tags(f)).toEqual(['v1.7.0', 'v1.7.0', 'v1.7.0', 'v1.7.0']);

    // signed off everywhere: --dry-run shows each step's change on the hosts it changes, and the restart after it
    writeFileSync(onHost(f.fleet.hosts[2]!, SIGNOFF), 'shadow run reviewed\n');
    const pidsBefore = pids(f);
    const dry = await f.task(['canary', 'v1.7.0', '--dry-run']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    const listed = dry.stdout.slice(dry.stdout.indexOf('Dry run: these would run'));
    const changes = [...listed.matchAll(/^ {2}\[(host\d)\] \/srv\/cutover-sbx\/flags\/flags\.json: (\d+)% asked/gm)].map((m) => `${m[2]}% ${m[1]}`);
    expect(changes).toEqual(['25% host1', '50% host2', '100% host3', '100% host4']);
    // a listing of several lines has its host on each line
    expect(listed).toContain('  [host1]       -    "new_ranker": { "enabled": false, "model": "v2" }\n  [host1]       +    "new_ranker": { "enabled": true, "model": "v2" }');
    expect(listed).toContain('[flags] write /srv/cutover-sbx/flags/flags.json on host3 (temporary file, then rename), then restart demo-chat');
    expect(dry.stdout).toContain('on a failure: every flag off again on every host (the hosts keep running v1.7.0: nothing is redeployed)');
    expect(dry.stdout).toContain('DRY RUN: nothing was changed');
    expect(flagFiles(f)).toEqual(before);
    expect(pids(f)).toEqual(pidsBefore);
    expect(await lockFile(f)).toBeNull();
    expect(await canaryJson(f)).toBeNull();
  }, LONG);

  it('with the sign-off everywhere, a good flag is turned on host by host (each host restarted as its flag changes) and promoted', async () => {
    f = await startCanaryFleet({ mode: 'flags', after: 'restart', canary: "steps: [25, 50, 75, 100], bake: '3s', interval: '1s', smoke: { verify: true }" });
    // v1.1.0 does not use the flag: turning it on changes nothing the gates can see
    await deployed(f, 'v1.1.0');
    const pidsBefore = pids(f);
    traffic = startTraffic(f, 120);
    const watch = watchFlags(f);
    const r = await f.task(['canary', 'v1.1.0', '--json']);
    const states = await watch.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ success: true, rollback_triggered: false, mode: 'flags', phase: 'done', percent: 100, realPercent: 100 });
    expect(r.json.decisions.filter((d: { action: string }) => d.action === 'promote').map((d: { step: number }) => d.step)).toEqual([0, 1, 2, 3]);
    // one more host at each step, seen on the hosts themselves
    expect(states).toEqual(['off off off off', 'on off off off', 'on on off off', 'on on on off', 'on on on on']);
    const events = readFileSync(r.json.eventLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step: number; detail: string });
    expect(events.filter((e) => e.type === 'traffic').map((e) => [e.step, e.detail])).toEqual([
      [0, '25% asked, 25.0% of the hosts: flags on for host1 (1 of 4)'],
      [1, '50% asked, 50.0% of the hosts: flags on for host1, host2 (2 of 4)'],
      [2, '75% asked, 75.0% of the hosts: flags on for host1, host2, host3 (3 of 4)'],
      [3, '100% asked, 100.0% of the hosts: flags on for host1, host2, host3, host4 (4 of 4)'],
    ]);
    // every host on, the rest of each file byte for byte; each service restarted (after: restart); the code untouched
    expect(flagFiles(f)).toEqual([FLAGS_ON, FLAGS_ON, FLAGS_ON, FLAGS_ON]);
    expect(pids(f).every((p, i) => p !== pidsBefore[i])).toBe(true);
    expect(await tags(f)).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(await canaryJson(f)).toMatchObject({ phase: 'done', mode: 'flags', tag: 'v1.1.0', stepIndex: 3 });
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', task: 'canary', result: 'deployed', live: 'v1.1.0' });
    expect(await lockFile(f)).toBeNull();
    // said as what happened: flags, not deploys
    expect(r.stderr).toContain('on a failure: every flag off again on every host (the hosts keep running v1.1.0: nothing is redeployed)');
    expect(r.stderr).toContain('Smoke checks: no host has its flags on yet');
    expect(r.stderr).toMatch(/canary of v1\.1\.0 on sbx: PROMOTED: the flags are on on every host \(v1\.1\.0\)/);
    expect(r.stderr).toMatch(/\n {2}host4: v1\.1\.0, flags on\n/);
  }, LONG);

  it('a flag that degrades the service under real traffic fails the errors gate: every flag reverted on every host (exit 1), the release stays', async () => {
    f = await startCanaryFleet({ mode: 'flags', canary: "steps: [25, 50, 100], bake: '30s', interval: '1s', smoke: { verify: true }" });
    // v1.7.0 ships the degradation behind the flag: its deploy verifies with the flag off
    await deployed(f, 'v1.7.0');
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.7.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, mode: 'flags', phase: 'rolled-back', percent: 0 });
    expect(r.json.rollback_reason, r.stderr).toMatch(/^a gate failed: errors fail/);
    expect(r.json.metrics_delta.errors.canary).toBeGreaterThan(5);
    expect(r.json.decisions.some((d: { action: string }) => d.action === 'promote')).toBe(false);
    expect(r.stderr).toMatch(/ROLLED BACK: a gate failed: errors fail[^\n]*; every flag off again on every host \(they still run v1\.7\.0, as before the canary\)/);
    expect(r.stderr).not.toContain('hosts back on the previous release');
    expect(r.stderr).toMatch(/\n {2}host1: v1\.7\.0, flags off\n/);
    // every flag off again, each file byte for byte as before; the code never moved
    expect(flagFiles(f)).toEqual([FLAGS_OFF, FLAGS_OFF, FLAGS_OFF, FLAGS_OFF]);
    expect(await tags(f)).toEqual(['v1.7.0', 'v1.7.0', 'v1.7.0', 'v1.7.0']);
    const events = readFileSync(r.json.eventLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step: number; detail?: string });
    expect(events.filter((e) => e.type === 'traffic').map((e) => [e.step, e.detail])).toEqual([
      [0, '25% asked, 25.0% of the hosts: flags on for host1 (1 of 4)'],
      [-1, '0% asked, 0.0% of the hosts: flags on for no host (0 of 4)'],
    ]);
    expect(await canaryJson(f)).toMatchObject({ phase: 'rolled-back', mode: 'flags' });
    expect((await hostHistory(f)).at(-1)).toMatchObject({ type: 'finished', task: 'canary', result: 'rolled-back' });
    expect(await lockFile(f)).toBeNull();
    // the service on host1 reads the reverted file by itself (after: none): its chats are fine again
    await stopTraffic(traffic);
    const host1 = f.fleet.hosts[0]!;
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`http://${host1.address}:${f!.appPort}/api/v1/conversation/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: i + 1, message: 'Mes dépenses' }) }).then((x) => x.status),
      ),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, LONG);

  // every host runs the release in flags mode: its tag names no cohort. Judged by the version field, the
  // canary and the stable cohort would both be every record, and a relative gate would pass a bad flag.
  it('records told apart by version cannot judge a flag: no data for either cohort, never a pass; rolled back past the maximum hold', async () => {
    f = await startCanaryFleet({
      mode: 'flags',
      gates: "{ name: 'errors-vs-stable', metric: 'errors', maxIncrease: 3, minSamples: 8 },",
      canary: "steps: [25, 100], bake: '4s', interval: '1s', gates: ['errors-vs-stable'], smoke: { verify: false }",
    });
    f.editEnv((t) => t.replace("cohortBy: 'host'", "cohortBy: { field: 'version' }"));
    await deployed(f, 'v1.7.0');
    traffic = startTraffic(f, 120);
    const r = await f.task(['canary', 'v1.7.0', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.decisions.some((d: { action: string }) => d.action === 'promote')).toBe(false);
    expect(r.json.decisions.some((d: { verdict: string }) => d.verdict === 'pass')).toBe(false);
    expect(r.json.rollback_reason).toMatch(/^held \d+s, past the maximum hold \(8s\): .*no data for canary/);
    expect(flagFiles(f)).toEqual([FLAGS_OFF, FLAGS_OFF, FLAGS_OFF, FLAGS_OFF]);
  }, LONG);

  it('a controller that dies between a step\'s flags and its bake: resume runs that step (recorded as begun) with exactly its hosts on, then promotes', async () => {
    // host2's reload waits while its hold file exists: the controller is killed there, at step 2, its flags written
    const HOLD = '/srv/cutover-sbx/flags/hold';
    f = await startCanaryFleet({ mode: 'flags', after: 'reload', reload: `while [ -e ${HOLD} ]; do sleep 0.1; done`, canary: "steps: [25, 50, 100], bake: '3s', interval: '1s', smoke: { verify: true }" });
    const host2 = f.fleet.hosts[1]!;
    writeFileSync(onHost(host2, HOLD), '');
    await deployed(f, 'v1.1.0');
    traffic = startTraffic(f, 120);
    let controller: ChildProcess | undefined;
    const first = f.task(['canary', 'v1.1.0'], { onOutput: (c) => void (controller = c) });
    await until(() => featureOn(f!).join() === 'true,true,false,false');
    killTree(controller!.pid!);
    expect((await first).code).not.toBe(0);
    // what the dead controller left: step 2 recorded as begun, host1 and host2 with their flags on
    const left = (await canaryJson(f)) as { stepIndex: number; hosts: { name: string; moved: boolean }[] };
    expect(left.stepIndex).toBe(1);
    expect(left.hosts.filter((h) => h.moved).map((h) => h.name)).toEqual(['host1', 'host2']);
    rmSync(onHost(host2, HOLD));
    // at once here (its pid is gone), after the lock's TTL elsewhere
    for (let i = 0; !/controller: NOT running/.test((await f.task(['canary', 'status'])).stdout); i++) expect(i).toBeLessThan(100);

    const watch = watchFlags(f);
    const r = await f.task(['canary', 'resume', '--json']);
    const states = await watch.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // never back to step 1 (host2 off again); step 3 writes its hosts' files at once, in any order
    expect(states[0]).toBe('on on off off');
    expect(states.at(-1)).toBe('on on on on');
    expect(states.filter((x) => !x.startsWith('on on '))).toEqual([]);
    const events = readFileSync(r.json.eventLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; step: number; detail: string });
    expect(events.filter((e) => e.type === 'traffic').map((e) => [e.step, e.detail])).toEqual([
      [0, '25% asked, 25.0% of the hosts: flags on for host1 (1 of 4)'],
      // resumed at step 2: its hosts, as that step says, then step by step
      [1, '50% asked, 50.0% of the hosts: flags on for host1, host2 (2 of 4)'],
      [2, '100% asked, 100.0% of the hosts: flags on for host1, host2, host3, host4 (4 of 4)'],
    ]);
    expect(flagFiles(f)).toEqual([FLAGS_ON, FLAGS_ON, FLAGS_ON, FLAGS_ON]);
    expect(await lockFile(f)).toBeNull();
  }, LONG);
});
