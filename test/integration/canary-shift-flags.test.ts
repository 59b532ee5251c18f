// The flags shifter against three sandbox hosts over real sshd: each host sees the flag file at the
// same path (its own folder mounted there), the systemd stand-in restarts the service.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FlagsConfig } from '../../tasks/lib/config/canary.ts';
import { Service } from '../../tasks/lib/config/schema.ts';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { FlagsShifter } from '../../tasks/lib/canary/shift/flags.ts';
import { ShiftError, SignoffMissingError, type ShiftHost, type ShiftStep } from '../../tasks/lib/canary/shift/types.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';

const MOUNT = '/srv/cutover-shift-flags';
const FILE = `${MOUNT}/app/flags.json`;
const SIGNOFF = `${MOUNT}/app/SIGNED-OFF`;
const ORIGINAL = `{
  "service": "api",
  "limits": { "max": 1.0, "big": 12345678901234567890 },
  "flags": {
    "new_catalog": { "enabled": false, "share": 0 }
  }
}
`;

let fleet: SshFleet;
let hosts: ShiftHost[];
const runners = new Map<string, SshRunner>();
const onDisk = (h: ShiftHost, name = 'app/flags.json') => path.join(fleet.hosts.find((x) => x.name === h.name)!.root, 'srv', name);
const pidOf = (h: ShiftHost) => readFileSync(path.join(fleet.hosts.find((x) => x.name === h.name)!.root, 'run', 'api.pid'), 'utf8').trim();

const flags = (over: Record<string, unknown> = {}) =>
  FlagsConfig.parse({ file: FILE, flags: [{ pointer: '/flags/new_catalog/enabled' }, { pointer: '/flags/new_catalog/share', on: 100, off: 0 }], ...over });
const shifter = (over: Record<string, unknown> = {}, services = [Service.parse({ unit: 'api' })]) =>
  new FlagsShifter({ flags: flags(over), hosts, runnerOf: (h) => runners.get(h.name)!, services });
const step = (canary: ShiftHost[], percent: number): ShiftStep => ({ percent, canary, stable: hosts.filter((h) => !canary.includes(h)), runId: 'R1', index: 0, steps: 3 });

function runnerFor(h: SshHost, port = h.port): SshRunner {
  return new SshRunner(
    { name: h.name, address: h.address, port, user: h.user },
    { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 3000 },
  );
}

beforeAll(async () => {
  fleet = await startSshHosts(3, { dir: mkdtempSync(path.join(os.tmpdir(), 'cutover-shift-flags-')), mountAt: MOUNT, units: [{ name: 'api', workingDirectory: '/tmp', execStart: 'sleep 1000' }] });
  hosts = fleet.hosts.map((h) => ({ name: h.name, address: h.address }));
  for (const h of fleet.hosts) {
    runners.set(h.name, runnerFor(h));
    mkdirSync(path.join(h.root, 'srv', 'app'), { recursive: true });
    const r = await runners.get(h.name)!.exec(command(raw('systemctl start api')));
    expect(r.code).toBe(0);
  }
});

afterAll(async () => {
  await Promise.all([...runners.values()].map((r) => r.close()));
  await fleet?.stop();
  if (fleet) rmSync(fleet.dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const h of hosts) {
    writeFileSync(onDisk(h), ORIGINAL);
    chmodSync(onDisk(h), 0o640);
    writeFileSync(onDisk(h, 'app/SIGNED-OFF'), 'signed off by the release manager\n');
    rmSync(onDisk(h, 'app/reloaded'), { force: true });
  }
});

describe('FlagsShifter over SSH', () => {
  it('preflight passes, then a step turns the flags on for the canary hosts only, restarting them one by one', async () => {
    const s = shifter({ after: 'restart', signoff: SIGNOFF });
    expect(await s.preflight()).toEqual([]);
    const [h1, h2, h3] = hosts as [ShiftHost, ShiftHost, ShiftHost];
    const plan = s.plan(step([h1], 33));
    expect(plan.summary).toBe('33% asked, 33.3% of the hosts: flags on for host1 (1 of 3)');
    expect(plan.files.map((f) => [f.host, f.changed])).toEqual([['host1', true], ['host2', false], ['host3', false]]);
    expect(plan.actions).toEqual([`write ${FILE} on host1 (temporary file, then rename), then restart api`]);
    const pids = hosts.map(pidOf);
    const inode = (h: ShiftHost) => statSync(onDisk(h)).ino;
    const untouched = [inode(h2), inode(h3)];

    const r = await s.apply(step([h1], 33));
    const on = ORIGINAL.replace('"enabled": false, "share": 0', '"enabled": true, "share": 100');
    expect(readFileSync(onDisk(h1), 'utf8')).toBe(on); // only the values changed: 1.0 and the big integer as they were
    expect(statSync(onDisk(h1)).mode & 0o777).toBe(0o640); // the old file's mode
    expect([inode(h2), inode(h3)]).toEqual(untouched); // not rewritten
    expect(hosts.map(pidOf)[0]).not.toBe(pids[0]); // restarted
    expect(hosts.map(pidOf).slice(1)).toEqual(pids.slice(1)); // not restarted
    expect(r.hosts!.map((x) => [x.host, x.changed])).toEqual([['host1', true], ['host2', false], ['host3', false]]);
    expect(r.files[0]!.diff).toContain('-    "new_catalog": { "enabled": false, "share": 0 }\n+    "new_catalog": { "enabled": true, "share": 100 }');
    expect(r.real).toBeCloseTo(33.33, 2);

    // the next step: the plan chains from the previous one
    const next = s.plan(step([h1, h2], 66), plan);
    expect(next.files.map((f) => [f.host, f.changed])).toEqual([['host1', false], ['host2', true], ['host3', false]]);
  });

  it('refuses to turn flags on without the sign-off on a canary host (exit 2, the file named, nothing changed)', async () => {
    const s = shifter({ signoff: SIGNOFF });
    rmSync(onDisk(hosts[1]!, 'app/SIGNED-OFF'));
    expect(await s.preflight()).toContain(
      `sign-off missing: ${SIGNOFF} does not exist on host2; nothing was changed. Create it once the release is signed off (e.g. after the shadow run), then run again.`,
    );
    const err = await s.apply(step([hosts[0]!, hosts[1]!], 66)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignoffMissingError);
    expect(err).toMatchObject({ exitCode: 2, changed: false, file: SIGNOFF, hosts: ['host2'] });
    for (const h of hosts) expect(readFileSync(onDisk(h), 'utf8')).toBe(ORIGINAL);
  });

  it('a breach reverts the flags: every host back to its off values (the original bytes), reloaded where changed', async () => {
    const s = shifter({ after: 'reload', reload: `date +%s%N >> ${MOUNT}/app/reloaded` });
    expect(await s.preflight()).toEqual([]);
    await s.apply(step([hosts[0]!, hosts[1]!], 66));
    expect(readFileSync(onDisk(hosts[2]!), 'utf8')).toBe(ORIGINAL);
    expect(hosts.map((h) => existsSync(onDisk(h, 'app/reloaded')))).toEqual([true, true, false]);
    const back = await s.reset();
    for (const h of hosts) expect(readFileSync(onDisk(h), 'utf8')).toBe(ORIGINAL);
    expect(back.hosts!.map((x) => [x.host, x.changed])).toEqual([['host1', true], ['host2', true], ['host3', false]]);
    expect(hosts.map((h) => (existsSync(onDisk(h, 'app/reloaded')) ? readFileSync(onDisk(h, 'app/reloaded'), 'utf8').trim().split('\n').length : 0))).toEqual([2, 2, 0]);
  });

  it('preflight names a missing file, a missing parent, a file that is not JSON, an unreachable host', async () => {
    rmSync(onDisk(hosts[0]!));
    writeFileSync(onDisk(hosts[1]!), '{"flags": {}}\n');
    writeFileSync(onDisk(hosts[2]!), '{"flags": {"new_catalog": {}},}\n');
    expect(await shifter().preflight()).toEqual([
      `host1: ${FILE} does not exist: flags mode changes an existing flag file`,
      `host2: ${FILE}: /flags/new_catalog/enabled: /flags/new_catalog does not exist (every parent of a flag must exist)`,
      `host2: ${FILE}: /flags/new_catalog/share: /flags/new_catalog does not exist (every parent of a flag must exist)`,
      expect.stringMatching(new RegExp(`^host3: ${FILE}: not valid JSON: .*`)),
    ]);
    const down = new FlagsShifter({ flags: flags(), hosts: [hosts[0]!], runnerOf: () => runnerFor(fleet.hosts[0]!, 1), services: [] });
    const problems = await down.preflight();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^host1: cannot connect to /);
  });

  it('a failing restart stops the step and says which hosts changed; the revert goes on past a failing host', async () => {
    const broken = shifter({ after: 'restart' }, [Service.parse({ name: 'api', commands: { restart: 'exit 3', status: 'true', logs: 'true' } })]);
    const err = (await broken.apply(step([hosts[0]!, hosts[1]!], 66)).catch((e: unknown) => e)) as ShiftError;
    expect(err).toBeInstanceOf(ShiftError);
    expect(err.message).toMatch(/^step 1 of 3: flags not changed everywhere:\nhost1: restarting api after changing .*flags.json failed \(the file is written\)/);
    expect(err).toMatchObject({ changed: true, attention: false, exitCode: 3 });
    expect(readFileSync(onDisk(hosts[1]!), 'utf8')).toBe(ORIGINAL); // stopped at the first failing host
    // host2's file is made unreadable: the revert still reverts host1, and says host2 needs a look
    writeFileSync(onDisk(hosts[1]!), 'not json');
    const revert = (await shifter().revert().catch((e: unknown) => e)) as ShiftError;
    expect(readFileSync(onDisk(hosts[0]!), 'utf8')).toBe(ORIGINAL);
    expect(revert.message).toMatch(/^flags not reverted everywhere:\nhost2: .*not valid JSON/);
    expect(revert.message).toMatch(/\nreverted on: host1$/);
    expect(revert).toMatchObject({ attention: true, exitCode: 3 });
  });
});
