/**
 * A canary driven from other terminals: status, pause, promote and abort reach the running
 * controller through the state host; a controller that dies leaves the canary where it was, and
 * `resume` from another process continues it from the recorded step.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { startCanaryFleet, startTraffic, stopTraffic } from '../support/canary-fleet.ts';
import { STATE, tagOn, type DeployFleet } from '../support/deploy-fleet.ts';
import { killTree } from '../support/processes.ts';
import { cutSessions, sessionPids } from '../support/sshd.ts';

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

/** Polls `cond` every 200 ms until it holds (or fails the test after `ms`). */
async function until(cond: () => Promise<boolean> | boolean, ms = 150_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const state = async (fleet: DeployFleet) => {
  const r = await fleet.runner().exec(command(sh`cat ${`${STATE}/canary.json`}`));
  return r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as { phase: string; stepIndex: number; decisions: { action: string }[]; controllerRunId: string; runId: string }) : null;
};

describe('canary control from another terminal', () => {
  it('no traffic: inconclusive, it holds and never promotes; past its maximum hold it waits for a person; abort from another process rolls it back (exit 1)', async () => {
    f = await startCanaryFleet({ canary: "steps: [50, 100], bake: '3s', maxHold: '3s', onMaxHold: 'wait', interval: '1s', smoke: { verify: true }" });
    const fleet = f;
    const run = f.task(['canary', 'v1.1.0', '--json']);
    await until(async () => (await state(fleet))?.phase === 'waiting');
    const status = await f.task(['canary', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/canary of v1\.1\.0 on sbx \(run \S+\): waiting, 50% of the traffic, step 1 of 2/);
    expect(status.stdout).toMatch(/controller: run \S+ by \S+, lock renewed/);
    expect(status.stdout).toMatch(/inconclusive/);
    const abort = await f.task(['canary', 'abort']);
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    expect(abort.stdout).toMatch(/asked the controller .* to abort/);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.rollback_reason).toMatch(/aborted by an operator/);
    expect(r.json.decisions.some((d: { action: string }) => d.action === 'promote')).toBe(false);
    expect(await tagOn(f, f.fleet.hosts[0])).toBe('v1.0.0');
    expect((await state(f))?.phase).toBe('rolled-back');
  }, LONG);

  it('pause, then promote, from another process: the controller acts within an interval', async () => {
    f = await startCanaryFleet({ canary: "steps: [50, 100], bake: '5m', interval: '1s', smoke: { verify: false }" });
    traffic = startTraffic(f, 120);
    const fleet = f;
    const run = f.task(['canary', 'v1.1.0', '--json']);
    await until(async () => (await state(fleet))?.phase === 'baking');
    expect((await f.task(['canary', 'pause'])).code).toBe(0);
    await until(async () => (await state(fleet))?.phase === 'paused');
    expect((await f.task(['canary', 'promote'])).code).toBe(0);
    await until(async () => (await state(fleet))?.stepIndex === 1);
    expect((await f.task(['canary', 'promote'])).code).toBe(0);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const actions = r.json.decisions.map((d: { action: string }) => d.action);
    expect(actions).toContain('paused');
    expect(r.json.decisions.filter((d: { why: string }) => /promoted by an operator/.test(d.why))).toHaveLength(2);
  }, LONG);

  it('a controller that dies leaves the canary where it was; resume from another process continues from the recorded step and promotes', async () => {
    f = await startCanaryFleet({ canary: "steps: [25, 50, 100], bake: '6s', interval: '1s', smoke: { verify: true }" });
    traffic = startTraffic(f, 120);
    const fleet = f;
    let child: ChildProcess | undefined;
    const first = f.task(['canary', 'v1.1.0'], { onOutput: (c) => (child = c) });
    // one read a poll (each is an SSH connection: slow on a busy machine), and long enough for two deploys there
    await until(async () => {
      const s = await state(fleet);
      return (s?.stepIndex ?? -1) >= 1 && s?.phase === 'baking';
    }, 150_000);
    killTree(child!.pid!);
    await first;
    const before = (await state(f))!;
    expect(before.phase).toBe('baking'); // as the dead controller left it
    await until(async () => /controller: NOT running/.test((await fleet.task(['canary', 'status'])).stdout), 20_000); // at once here (the pid is gone), after its TTL elsewhere
    const r = await f.task(['canary', 'resume', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.runId).toBe(before.runId);
    expect(r.json.controllerRunId).not.toBe(before.controllerRunId);
    expect(r.json.phase).toBe('done');
    expect(await Promise.all(f.fleet.hosts.map((h) => tagOn(fleet, h)))).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(r.stderr).toMatch(/took the lock from .*resume of canary/);
  }, LONG);

  it('connections cut again and again while it bakes: the controller reconnects and goes on, and promotes', async () => {
    f = await startCanaryFleet({ canary: "steps: [25, 100], bake: '20s', interval: '1s', smoke: { verify: true }" });
    traffic = startTraffic(f, 120);
    const fleet = f;
    const run = f.task(['canary', 'v1.1.0', '--json']);
    await until(async () => (await state(fleet))?.phase === 'baking');
    let cut = 0;
    let rounds = 0;
    let ended = false;
    void run.then(() => (ended = true));
    // every host's sessions (the state host's, the log readers'), again and again in the first 14 s of the
    // 20 s bake, each time once the controller is back on every host. Not at a fixed pace: on a busy
    // machine that outruns its reconnects (two failed lock renewals: exit 3, rightly). Not past the
    // window: a cut in the promotion kills an install or a check (a failed host, rightly). The window
    // is a clock, not the state file's phase: that file is written by the controller, whose writes the cuts fail.
    const window = Date.now() + 14_000;
    while (!ended && Date.now() < window) {
      const now = fleet.fleet.hosts.reduce((n, h) => n + cutSessions(h), 0);
      cut += now;
      if (now > 0) rounds++;
      const back = Date.now() + 20_000;
      while (!ended && Date.now() < back && !fleet.fleet.hosts.every((h) => sessionPids(h).length > 0)) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500));
    }
    const r = await run;
    expect(rounds, `${cut} sessions cut`).toBeGreaterThanOrEqual(2); // again and again
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ success: true, phase: 'done' });
    expect(await Promise.all(f.fleet.hosts.map((h) => tagOn(fleet, h)))).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0', 'v1.1.0']);
  }, LONG);
});
