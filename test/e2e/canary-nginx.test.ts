/**
 * canary in nginx mode on the local canary fleet (environments/local-canary.ts's own configuration:
 * three hosts, a real nginx in front, steps 20 -> 50 -> 100 baked 30, 10 and 10 s), with the real
 * traffic generator sending requests through nginx (`canary --traffic`, as the demo runs it). The weights nginx really served are read from
 * its JSON access log, between the canary's own traffic events.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, LocalFleet, type AccessLine } from '../support/local-fleet.ts';

let f: LocalFleet;
const LONG = 420_000; // a bake under real traffic, on a slow or busy machine

beforeAll(async () => {
  f = await LocalFleet.create();
  // `quick`: the same fleet, with short bakes (for what needs a step, not the demo's timing)
  f.writeEnv('quick', 'clone', { app: f.appPort, nginx: f.nginxPort }, (t) => t.replace('export default env;', "env.canary!.bake = ['5s', '3s', '3s'];\nexport default env;"));
  // `brisk`: bakes long enough for a few dozen requests a step, to read the split nginx served
  f.writeEnv('brisk', 'clone', { app: f.appPort, nginx: f.nginxPort }, (t) => t.replace('export default env;', "env.canary!.bake = ['7s', '6s', '3s'];\nexport default env;"));
  const d = await f.task('doctor', ['--env', 'fleet']); // creates the fleet, at v1.0.0
  f.track();
  expect(d.code, d.stdout + d.stderr).not.toBe(2);
}, LONG);

afterAll(async () => {
  await f?.stop();
});

/** The generators of `canary --traffic` still running for this fleet (their environment names this test's folder). */
const generators = async () =>
  (await exec('pgrep', ['-f', 'tasks/traffic.ts --env']).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`CUTOVER_ENVIRONMENTS_DIR=${f.envDir}`);
    } catch {
      return false; // gone
    }
  });

interface TrafficEvent { type: 'traffic'; at: string; step: number; percent: number; realPercent: number; detail: string }
const trafficEvents = (file: string): TrafficEvent[] =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e: { type: string }) => e.type === 'traffic');

/** sandbox-a's share of the chats nginx served between two instants (a second after the first: the reload's old worker drains). */
function canaryShare(lines: (AccessLine & { msec?: string })[], from: string, to: string): { share: number; n: number } {
  const [a, b] = [Date.parse(from) / 1000 + 1, Date.parse(to) / 1000];
  const seen = lines.filter((l) => l.uri === '/api/v1/conversation/chat' && Number(l.msec) >= a && Number(l.msec) < b);
  const t = f.tally(seen);
  return { share: (100 * t['sandbox-a']!) / seen.length, n: seen.length };
}

const tags = () => Promise.all(f.layout.hosts.map(async (h) => (await exec('git', ['-C', h.appDir, 'describe', '--tags', '--exact-match'])).stdout.trim()));
const stateFile = () => path.join(f.layout.hosts[0]!.mountSource, '.cutover', 'app', 'canary.json');

describe('canary, nginx mode, the local canary fleet', () => {
  it('nginx failing its test at a step: the previous file stays, the hosts go back anyway, exit 3 with the next action; abort puts the file back once nginx is fixed', async () => {
    const original = readFileSync(f.nginx.include, 'utf8');
    const conf = readFileSync(f.nginx.conf, 'utf8');
    const run = f.task('canary', ['v1.1.0', '--env', 'quick', '--json']);
    // while step 1 bakes, someone breaks nginx.conf: step 2's `nginx -t` fails
    let step1 = '';
    for (let i = 0; i < 600 && !step1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        const s = JSON.parse(readFileSync(stateFile(), 'utf8'));
        if (s.stepIndex === 0 && s.phase === 'baking' && s.realPercent === 20) step1 = readFileSync(f.nginx.include, 'utf8');
      } catch { /* not written yet */ }
    }
    expect(step1).toContain('weight=');
    writeFileSync(f.nginx.conf, conf.replace('worker_processes 1;', 'worker_processes 1;\nnot_a_directive on;'));
    const r = await run;
    writeFileSync(f.nginx.conf, conf);
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json.phase).toBe('failed');
    expect(readFileSync(f.nginx.include, 'utf8')).toBe(step1); // the tested file of step 1, never an untested one
    expect(await tags()).toEqual(['v1.0.0', 'v1.0.0', 'v1.0.0']); // the canary host went back anyway
    expect(r.json.notes.join('\n')).toMatch(/the load balancer was not changed back .*unknown directive "not_a_directive".*canary\.ts abort --env quick/s);
    const status = await f.task('canary', ['status', '--env', 'quick']);
    expect(status.stdout).toContain('its rollback did not complete: npx tsx tasks/canary.ts abort --env quick retries it');
    const again = await f.task('canary', ['v1.1.0', '--env', 'quick']);
    expect(again.code).toBe(2); // a new canary waits for this one's abort

    const abort = await f.task('canary', ['abort', '--env', 'quick', '--json']);
    expect(abort.code, abort.stdout + abort.stderr).toBe(1);
    expect(abort.json).toMatchObject({ phase: 'rolled-back', percent: 0 });
    expect(readFileSync(f.nginx.include, 'utf8')).toBe(original);
  }, LONG);

  it('a good tag: 20% then 50% of the requests nginx serves go to the canary host, then every host runs it and the file is as before', async () => {
    const original = readFileSync(f.nginx.include, 'utf8');
    const mark = f.upstreams().length;
    const r = await f.task('canary', ['v1.1.0', '--env', 'brisk', '--traffic', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ success: true, phase: 'done', percent: 100 });
    expect(await tags()).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(readFileSync(f.nginx.include, 'utf8')).toBe(original);
    const ev = trafficEvents(r.json.eventLog);
    // the canary host out of rotation while it is deployed, then 20%, 50%, every host
    expect(ev.map((e) => [e.percent, e.realPercent])).toEqual([[0, 0], [20, 20], [50, 50], [100, 100]]);
    const lines = f.upstreams(mark);
    expect(ev[0]!.detail).toMatch(/canary 1 server not listed, stable 2 servers x weight 1/);
    const drained = lines.filter((l) => Number((l as { msec?: string }).msec) >= Date.parse(ev[0]!.at) / 1000 + 0.2 && Number((l as { msec?: string }).msec) < Date.parse(ev[1]!.at) / 1000);
    expect(f.tally(drained)['sandbox-a']).toBe(0); // its deploy is short here: often no request at all
    const s1 = canaryShare(lines, ev[1]!.at, ev[2]!.at);
    const s2 = canaryShare(lines, ev[2]!.at, ev[3]!.at);
    expect(s1.n).toBeGreaterThan(40);
    expect(s2.n).toBeGreaterThan(40);
    expect(Math.abs(s1.share - 20)).toBeLessThan(6);
    expect(Math.abs(s2.share - 50)).toBeLessThan(6);
    expect(lines.every((l) => l.status < 500)).toBe(true);
    expect(await generators()).toEqual([]); // --traffic's generator stopped with the run
  }, LONG);

  it('a tag that degrades under traffic: the gates fail at 20%, every request back to the stable hosts, the canary host back to v1.1.0, the file as before (exit 1)', async () => {
    const original = readFileSync(f.nginx.include, 'utf8');
    const r = await f.task('canary', ['v1.6.0', '--env', 'fleet', '--traffic', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json).toMatchObject({ success: false, rollback_triggered: true, phase: 'rolled-back', percent: 0 });
    expect(r.json.rollback_reason, r.stderr).toMatch(/^a gate failed: /); // the stderr names a host's failed check
    expect(r.json.decisions.some((d: { action: string }) => d.action === 'promote')).toBe(false);
    expect(await tags()).toEqual(['v1.1.0', 'v1.1.0', 'v1.1.0']);
    expect(readFileSync(f.nginx.include, 'utf8')).toBe(original);
    const ev = trafficEvents(r.json.eventLog);
    expect(ev.map((e) => e.percent)).toEqual([0, 20, 0]); // drained for its deploy, 20%, then 100% stable first, then the host went back
  }, LONG);
});
