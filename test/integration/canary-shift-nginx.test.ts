// The nginx traffic shifter against a real nginx (Debian package) on loopback, with one worker so the
// weighted round robin is exact per cycle, in front of four small HTTP servers (3 stable, 1 canary).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LoadBalancer } from '../../tasks/lib/config/canary.ts';
import { NginxShifter } from '../../tasks/lib/canary/shift/nginx.ts';
import { upstreamFileText } from '../../tasks/lib/canary/shift/nginx-file.ts';
import { shiftCommands } from '../../tasks/lib/canary/shift/commands.ts';
import { ShiftError, type ShiftHost, type ShiftStep } from '../../tasks/lib/canary/shift/types.ts';
import { weightsFor } from '../../tasks/lib/canary/shift/weights.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { getOnce, split, startNginx, startUpstreamServers, type Nginx, type UpstreamServers } from '../support/nginx.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';

let dir: string;
let servers: UpstreamServers;
let nginx: Nginx;
let stable: ShiftHost[];
let canary: ShiftHost[];
let include: string;
/** The operator's upstream before cutover took it over (no header of ours). */
const ORIGINAL = (port: number, addrs: string[]) => `upstream app {\n${addrs.map((a) => `    server ${a}:${port};\n`).join('')}}\n`;
let original: string;
const runner: Runner = new LocalRunner({ name: 'lb', address: '127.0.0.1', port: 22, user: 'root' });

const lbConfig = (over: Record<string, unknown> = {}) =>
  LoadBalancer.parse({ address: '127.0.0.1', transport: 'local', include, upstream: 'app', appPort: servers.port, test: nginx.testCommand, reload: nginx.reloadCommand, ...over });
const shifter = (over: Record<string, unknown> = {}, r = runner) => new NginxShifter({ lb: lbConfig(over), runner: r, canary, stable, runId: 'R1' });
const step = (percent: number, index = 0, c = canary): ShiftStep => ({ percent, canary: c, stable, runId: 'R1', index, steps: 5 });

/** Apply, then wait until nginx's workers are the reloaded ones, then count `cycles` round-robin cycles. */
async function applyAndCount(s: NginxShifter, st: ShiftStep, cycles: number) {
  const old = await nginx.workers();
  const result = await s.apply(st);
  await nginx.waitForNewWorkers(old);
  return { result, counts: await split(nginx.url, result.weights!.total * cycles) };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-shift-nginx-'));
  servers = await startUpstreamServers(['web-1', 'web-2', 'web-3', 'web-4']);
  stable = servers.hosts.slice(0, 3);
  canary = servers.hosts.slice(3);
  mkdirSync(path.join(dir, 'lb'));
  include = path.join(dir, 'lb', 'upstream.conf');
  original = ORIGINAL(servers.port, stable.map((h) => h.address));
  writeFileSync(include, original);
  nginx = await startNginx({ dir: path.join(dir, 'nginx'), upstreams: [], include: path.join(dir, 'lb', '*.conf') });
});

afterAll(async () => {
  await nginx?.stop();
  await servers?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  // every test starts from the operator's file, loaded
  const old = await nginx.workers();
  writeFileSync(include, original);
  await nginx.reload([]);
  await nginx.waitForNewWorkers(old);
});

describe('NginxShifter against a real nginx', () => {
  it('preflight passes on a ready load balancer and keeps the file for the plan (a diff from the operator file)', async () => {
    const s = shifter();
    expect(await s.preflight()).toEqual([]);
    const plan = s.plan(step(10));
    expect(plan.files[0]!.before).toBe(original);
    expect(plan.files[0]!.diff).toContain(`-    server ${stable[0]!.address}:${servers.port};`);
    expect(plan.files[0]!.diff).toContain(`+    server ${canary[0]!.address}:${servers.port} weight=1;  # web-4`);
    expect(plan.summary).toBe('10% asked, 10.0% real: canary 1 server x weight 1, stable 3 servers x weight 3');
  });

  it('applies each step: the exact file, and nginx serves the exact split (10%, 50%, 100%, then reset)', async () => {
    const s = shifter();
    const ten = await applyAndCount(s, step(10), 3);
    expect(readFileSync(include, 'utf8')).toBe(upstreamFileText({ upstream: 'app', appPort: servers.port, canary, stable, weights: weightsFor(10, 1, 3), label: 'run R1, step 1 of 5' }));
    expect(ten.counts).toEqual({ 'web-1': 9, 'web-2': 9, 'web-3': 9, 'web-4': 3 }); // 3 cycles of 1 + 3 x 3
    expect(ten.result).toMatchObject({ mode: 'nginx', percent: 10, real: 10, exact: true });
    expect(ten.result.files[0]).toMatchObject({ before: original, changed: true });
    expect(ten.result.phases!.testMs).toBeGreaterThanOrEqual(0);
    expect(statSync(include).mode & 0o777).toBe(0o644);

    const half = await applyAndCount(s, step(50, 2), 2);
    expect(half.result.weights).toMatchObject({ canary: 3, stable: 1 });
    expect(half.counts).toEqual({ 'web-1': 2, 'web-2': 2, 'web-3': 2, 'web-4': 6 });

    const all = await applyAndCount(s, step(100, 4), 4);
    expect(all.counts).toEqual({ 'web-4': 4 });
    expect(readFileSync(include, 'utf8')).toContain(`# stable: not listed at 100% (web-1 ${stable[0]!.address}:${servers.port}`);

    const old = await nginx.workers();
    const back = await s.reset();
    await nginx.waitForNewWorkers(old);
    expect(back.real).toBe(0);
    expect(await split(nginx.url, 6)).toEqual({ 'web-1': 2, 'web-2': 2, 'web-3': 2 });
    // nothing of cutover's left beside the file
    expect(readdirSync(path.dirname(include))).toEqual(['upstream.conf']);
  });

  it('a failing nginx -t leaves the previous file byte for byte, nginx unreloaded and serving the previous split', async () => {
    const s = shifter();
    await applyAndCount(s, step(10), 1);
    const before = readFileSync(include);
    const workers = await nginx.workers();
    const broken = [{ name: 'web-9', address: 'no-such-host.invalid' }];
    const err = await s.apply(step(20, 1, broken)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShiftError);
    expect((err as ShiftError).message).toMatch(/failed with the new file; the previous file is back in place byte for byte and nginx was not reloaded/);
    expect((err as ShiftError).message).toMatch(/host not found in upstream "no-such-host.invalid/); // nginx's own words
    expect((err as ShiftError).changed).toBe(false);
    expect((err as ShiftError).exitCode).toBe(2);
    expect(readFileSync(include).equals(before)).toBe(true);
    expect(await nginx.workers()).toEqual(workers); // not reloaded
    expect(await split(nginx.url, 10)).toEqual({ 'web-1': 3, 'web-2': 3, 'web-3': 3, 'web-4': 1 });
    expect(readdirSync(path.dirname(include))).toEqual(['upstream.conf']);
  });

  it('a reload that fails once: the previous file back, nginx reloaded with it; failing twice: a person must look', async () => {
    const flag = path.join(dir, 'reload-failed-once');
    rmSync(flag, { force: true });
    const flaky = path.join(dir, 'flaky-reload.sh');
    writeFileSync(flaky, `[ -e ${flag} ] || { touch ${flag}; echo "reload: simulated failure" >&2; exit 1; }\nexec ${nginx.reloadCommand}\n`);
    const s = shifter({ reload: `bash ${flaky}` });
    const old = await nginx.workers();
    const err = (await s.apply(step(10)).catch((e: unknown) => e)) as ShiftError;
    await nginx.waitForNewWorkers(old); // reloaded once, with the previous file
    expect(err.message).toMatch(/failed; the previous file is back in place and nginx reloaded with it[^]*simulated failure/);
    expect(err).toMatchObject({ changed: false, attention: false });
    expect(readFileSync(include, 'utf8')).toBe(original);

    const workers = await nginx.workers();
    const never = shifter({ reload: 'false' });
    const err2 = (await never.apply(step(10)).catch((e: unknown) => e)) as ShiftError;
    expect(err2.message).toMatch(/reloading with it failed too/);
    expect(err2).toMatchObject({ attention: true, exitCode: 3 });
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(await nginx.workers()).toEqual(workers);
    expect(await split(nginx.url, 3)).toEqual({ 'web-1': 1, 'web-2': 1, 'web-3': 1 });
  });

  it('a reload is graceful: a request in flight when the weights change is answered by the old worker', async () => {
    const s = shifter();
    const hold = servers.holdNext();
    const answer = getOnce(`${nginx.url}/hold`);
    const server = await hold.arrived; // the request is in nginx's (old) worker, waiting on a stable server
    const old = await nginx.workers();
    await s.apply(step(50));
    hold.release();
    expect(await answer).toBe(server);
    expect(['web-1', 'web-2', 'web-3']).toContain(server);
    await nginx.waitForNewWorkers(old); // and the old worker went away once it had answered
  });

  it('restore() puts back a file exactly as it was (the operator file), tested and reloaded', async () => {
    const s = shifter();
    await applyAndCount(s, step(50), 1);
    const old = await nginx.workers();
    const r = await s.restore(original);
    await nginx.waitForNewWorkers(old);
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(r.file).toMatchObject({ after: original, changed: true });
    expect(await split(nginx.url, 3)).toEqual({ 'web-1': 1, 'web-2': 1, 'web-3': 1 });
  });

  it('absent file: the first write creates it; when nginx refuses it, it is removed again', async () => {
    // a second nginx that still defines the upstream inline and includes lb-b/*.conf
    const lbA = path.join(dir, 'lb-a');
    const lbB = path.join(dir, 'lb-b');
    mkdirSync(lbA);
    mkdirSync(lbB);
    const inline = await startNginx({ dir: path.join(dir, 'nginx-inline'), upstreams: stable.map((h) => ({ address: `${h.address}:${servers.port}` })), include: `${lbB}/*.conf` });
    const on = (file: string) =>
      new NginxShifter({ lb: LoadBalancer.parse({ address: '127.0.0.1', transport: 'local', include: file, upstream: 'app', appPort: servers.port, test: inline.testCommand, reload: inline.reloadCommand }), runner, canary, stable, runId: 'R1' });
    try {
      // lb-a is not loaded by this nginx: the test passes and the file is created
      const a = on(path.join(lbA, 'upstream.conf'));
      expect(await a.read()).toBeNull();
      const made = await a.apply(step(10));
      expect(made.files[0]).toMatchObject({ before: null, changed: true });
      expect(made.files[0]!.diff).toMatch(/^--- \/dev\/null\tnow\n/);
      expect(readFileSync(path.join(lbA, 'upstream.conf'), 'utf8')).toBe(made.files[0]!.after);
      expect(statSync(path.join(lbA, 'upstream.conf')).mode & 0o777).toBe(0o644);
      // lb-b is loaded: a second `upstream app` fails nginx -t, and the new file goes away
      const b = on(path.join(lbB, 'upstream.conf'));
      expect((await b.preflight()).join('\n')).toMatch(/upstream app is also defined in .*nginx-inline\/nginx.conf: cutover must own it alone/);
      const err = (await b.apply(step(10)).catch((e: unknown) => e)) as ShiftError;
      expect(err.message).toMatch(/duplicate upstream "app"/);
      expect(existsSync(path.join(lbB, 'upstream.conf'))).toBe(false);
      expect(readdirSync(lbB)).toEqual([]);
    } finally {
      await inline.stop();
    }
  });
});

describe('NginxShifter.preflight: what is wrong, before anything changes', () => {
  it('names a missing folder, a file nginx does not load, an upstream nothing uses, a configuration that fails its test', async () => {
    expect(await shifter({ include: path.join(dir, 'nope', 'upstream.conf') }).preflight()).toContain(
      `lb: folder ${path.join(dir, 'nope')} does not exist: create it, writable by root, and include ${path.join(dir, 'nope', 'upstream.conf')} in nginx's http block`,
    );
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(path.join(elsewhere, 'upstream.conf'), original);
    expect((await shifter({ include: path.join(elsewhere, 'upstream.conf') }).preflight()).join('\n')).toMatch(
      new RegExp(`nginx does not load ${elsewhere}/upstream.conf: add \`include ${elsewhere}/upstream.conf;\` to the http block`),
    );
    expect(await shifter({ upstream: 'other' }).preflight()).toContain('no `proxy_pass http://other` in the configuration nginx loads: traffic would not go through the upstream cutover writes');
    const broken = path.join(dir, 'broken.conf');
    writeFileSync(broken, 'events {}\nhttp {\n');
    const problems = await shifter({ test: `/usr/sbin/nginx -t -q -p ${dir} -c ${broken}` }).preflight();
    expect(problems.join('\n')).toMatch(/fails with the current configuration \(fix nginx before a canary\):\n.*unexpected end of file/);
    // read-only: the operator's file is untouched
    expect(readFileSync(include, 'utf8')).toBe(original);
  });

  it('names a server nginx could not be given (an address that would break the file)', async () => {
    const s = new NginxShifter({ lb: lbConfig(), runner, canary: [{ name: 'web-4', address: '10.0.0.5; evil' }], stable, runId: 'R1' });
    expect(await s.preflight()).toContain('web-4: address "10.0.0.5; evil" is not a host name or IP address nginx can use in a server line');
  });

  it('the guard: a file changed since it was read is not replaced (exit 21, nothing written)', async () => {
    const r = await runner.exec({ ...shiftCommands.lbApply({ path: include, expect: '0'.repeat(64), test: 'true', reload: 'true', sudo: false }), stdin: 'upstream app { server 127.0.0.1:1; }\n' });
    expect(r.code).toBe(21);
    expect(r.stderr).toMatch(/changed since cutover read it: nothing was written/);
    expect(readFileSync(include, 'utf8')).toBe(original);
    expect(readdirSync(path.dirname(include))).toEqual(['upstream.conf']);
  });
});

describe('NginxShifter over SSH (the load balancer as a sandbox host)', () => {
  let fleet: SshFleet;
  const runners: SshRunner[] = [];
  const sshTo = (port?: number) => {
    const h = fleet.hosts[0]!;
    const r = new SshRunner(
      { name: 'lb', address: h.address, port: port ?? h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 3000 },
    );
    runners.push(r);
    return r;
  };

  beforeAll(async () => {
    fleet = await startSshHosts(1, { dir: mkdtempSync(path.join(os.tmpdir(), 'cutover-shift-lb-')) });
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.close()));
    await fleet?.stop();
    if (fleet) rmSync(fleet.dir, { recursive: true, force: true });
  });

  it('preflight, then a weight change through SSH: the file written, nginx serving the split', async () => {
    const s = shifter({ transport: 'ssh' }, sshTo());
    expect(await s.preflight()).toEqual([]);
    const { result, counts } = await applyAndCount(s, step(20), 2);
    expect(result.weights).toMatchObject({ canary: 3, stable: 4, total: 15 });
    expect(counts).toEqual({ 'web-1': 8, 'web-2': 8, 'web-3': 8, 'web-4': 6 });
    expect(readFileSync(include, 'utf8')).toBe(result.files[0]!.after);
  });

  it('an unreachable load balancer is a preflight problem, not a crash', async () => {
    const problems = await shifter({ transport: 'ssh' }, sshTo(1)).preflight();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^load balancer lb: cannot connect to root@/);
  });
});
