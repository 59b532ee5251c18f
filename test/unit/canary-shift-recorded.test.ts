// The shifters against the recording runner: what they run, that file contents travel on stdin,
// and how every outcome of the load balancer's transaction is reported.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CanaryConfig } from '../../tasks/lib/config/canary.ts';
import { Service } from '../../tasks/lib/config/schema.ts';
import { createShifter, NginxShifter, ShiftError, shiftHost } from '../../tasks/lib/canary/shift/index.ts';
import type { Command } from '../../tasks/lib/commands/shell.ts';
import { RecordingRunner, type Reply } from '../../tasks/lib/runners/recorder.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';

const canaryHosts = [shiftHost({ name: 'web-4', address: '10.0.0.5' })];
const stableHosts = ['10.0.0.4', '10.0.0.6', '10.0.0.7'].map((address, i) => shiftHost({ name: `web-${i + 1}`, address }));
const CURRENT = 'upstream app {\n    server 10.0.0.4:8001;\n}\n';
const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const config = (over: object = {}) =>
  CanaryConfig.parse({ mode: 'nginx', nginx: { address: '10.0.0.2', include: '/etc/nginx/cutover/app.conf', upstream: 'app', appPort: 8001 }, ...over });

function nginxWith(apply: Reply, read: Reply = { stdout: `present ${sha(CURRENT)}\n${CURRENT}` }) {
  const lb = new RecordingRunner({ name: 'lb', address: '10.0.0.2', port: 22, user: 'deploy' }, { reply: (c: Command) => (c.readOnly ? read : apply) });
  const s = createShifter({ canary: config(), runId: 'R1', canaryHosts, stableHosts, services: [], runnerOf: () => lb, lbRunner: lb });
  return { s: s as NginxShifter, lb };
}
const step = { percent: 10, canary: canaryHosts, stable: stableHosts, runId: 'R1', index: 0, steps: 5 };

describe('NginxShifter, recorded', () => {
  it('reads, then one transaction with the file on stdin (never on the command line), guarded by the hash it read', async () => {
    const { s, lb } = nginxWith({ stdout: 'timing 100.000000 100.002000 100.042000 100.052000\n' });
    const r = await s.apply(step);
    expect(lb.commands).toHaveLength(2);
    const [read, apply] = lb.commands as [Command, Command];
    expect(read.readOnly).toBe(true);
    expect(apply.stdin).toBe(r.files[0]!.after);
    expect(apply.script).not.toContain('weight=');
    expect(apply.script).toContain(`if [ "$h" != ${sha(CURRENT)} ]`);
    expect(r.phases).toEqual({ writeMs: 2, testMs: 40, reloadMs: 10 });
    expect(r.files[0]).toMatchObject({ before: CURRENT, changed: true });
    expect(r.summary).toBe('10% asked, 10.0% real: canary 1 server x weight 1, stable 3 servers x weight 3');
    // every change reads the file again and is guarded by what it read (here the recorder answers the same file)
    await s.reset();
    expect(lb.commands.map((c) => c.readOnly ?? false)).toEqual([true, false, true, false]);
    expect(lb.commands[3]!.script).toContain(`if [ "$h" != ${sha(CURRENT)} ]`);
  });

  it('an absent file: expected absent, and restore(null) removes it', async () => {
    const { s, lb } = nginxWith({ stdout: '' }, { stdout: 'absent\n' });
    await s.restore(null);
    expect(lb.commands[1]!.script).toContain('if [ "$h" != absent ]');
    expect(lb.commands[1]!.script).toContain('rm -f -- "$p" || ');
    expect(lb.commands[1]!.stdin).toBeUndefined();
  });

  it.each([
    [10, false, false, 2, /failed with the new file; the previous file is back in place byte for byte and nginx was not reloaded .*\n.*emerg/],
    [11, false, false, 2, /`nginx -s reload` failed; the previous file is back in place and nginx reloaded with it/],
    [12, true, true, 3, /reloading with it failed too: check nginx on lb/],
    [13, true, true, 3, /putting the previous file back failed too: the new, failing file may be in place/],
    [20, false, false, 2, /not written \(nothing changed\)/],
    [21, false, false, 2, /not written \(nothing changed\): .*changed since cutover read it/],
  ])('exit %i: changed %s, attention %s, exit code %i', async (code, changed, attention, exitCode, message) => {
    const { s } = nginxWith({ code, stderr: code === 21 ? '/etc/nginx/cutover/app.conf changed since cutover read it' : 'nginx: [emerg] something' });
    const err = (await s.apply(step).catch((e: unknown) => e)) as ShiftError;
    expect(err).toBeInstanceOf(ShiftError);
    expect(err).toMatchObject({ changed, attention, exitCode });
    expect(err.message).toMatch(message);
  });

  it('a transaction that never reported its end: what the file holds now is read and said', async () => {
    let reads = 0;
    const rec = new RecordingRunner({ name: 'lb', address: '10.0.0.2', port: 22, user: 'deploy' }, {
      reply: () => ({ stdout: ++reads === 1 ? `present ${sha(CURRENT)}\n${CURRENT}` : 'absent\n' }),
    });
    // the connection dies under the transaction (the runner reports no exit code)
    const lb: Runner = {
      host: rec.host,
      exec: async (c, o) => (c.readOnly ? rec.exec(c, o) : { host: 'lb', code: null, error: 'connection lost before the command finished', stdout: '', stderr: '', stdoutBytes: 0, durationMs: 5 }),
      close: () => rec.close(),
    };
    const s = new NginxShifter({ lb: config().nginx!, runner: lb, canary: canaryHosts, stable: stableHosts, runId: 'R1' });
    const err = (await s.apply(step).catch((e: unknown) => e)) as ShiftError;
    expect(err.message).toBe('lb: /etc/nginx/cutover/app.conf: the change did not report its end (connection lost before the command finished); the load balancer now holds no file; check that nginx was reloaded:\nconnection lost before the command finished');
    expect(err).toMatchObject({ attention: true, exitCode: 3 });
  });

  it('interrupted before it started: nothing runs', async () => {
    const { s, lb } = nginxWith({});
    const ac = new AbortController();
    ac.abort();
    await expect(s.apply(step, ac.signal)).rejects.toThrow('interrupted before the weights changed; nothing was written');
    expect(lb.commands).toEqual([]);
  });

  it('plan() needs the file read first (preflight does)', () => {
    const { s } = nginxWith({});
    expect(() => s.plan(step)).toThrow('call preflight() or read() first');
  });
});

describe('createShifter', () => {
  it('flags mode: the file on stdin, the old hash as guard', async () => {
    const text = '{"flags": {"x": false}}';
    const runner = new RecordingRunner({ name: 'web-4', address: '10.0.0.5', port: 22, user: 'deploy' }, { reply: (c) => (c.readOnly ? { stdout: `present ${sha(text)}\n${text}` } : {}) });
    const s = createShifter({
      canary: CanaryConfig.parse({ mode: 'flags', flags: { file: '/srv/app/flags.json', flags: [{ pointer: '/flags/x' }], after: 'restart' } }),
      runId: 'R1', canaryHosts, stableHosts: [], services: [Service.parse({ unit: 'api' })], runnerOf: () => runner,
    });
    expect(s.mode).toBe('flags');
    await s.apply({ ...step, stable: [], percent: 100 });
    expect(runner.commands.map((c) => c.script.split('\n')[0])).toEqual([
      "p=/srv/app/flags.json",
      "trap '' INT HUP PIPE",
      'sudo -n systemctl restart -- api',
      'systemctl is-active -- api',
    ]);
    expect(runner.commands[1]!.stdin).toBe('{"flags": {"x": true}}');
  });

  it('flags mode: a host named twice in a step is refused before anything runs', async () => {
    const runner = new RecordingRunner({ name: 'web-4', address: '10.0.0.5', port: 22, user: 'deploy' });
    const s = createShifter({
      canary: CanaryConfig.parse({ mode: 'flags', flags: { file: '/srv/app/flags.json', flags: [{ pointer: '/flags/x' }] } }),
      runId: 'R1', canaryHosts, stableHosts, services: [], runnerOf: () => runner,
    });
    await expect(s.apply({ ...step, stable: [...stableHosts, canaryHosts[0]!] })).rejects.toThrow('web-4: named twice in the step (a host is either canary or stable); nothing was changed');
    expect(runner.commands).toEqual([]);
  });

  it('refuses subset mode and missing parts', () => {
    const base = { runId: 'R1', canaryHosts, stableHosts, services: [], runnerOf: () => { throw new Error('no runner'); } };
    expect(() => createShifter({ ...base, canary: CanaryConfig.parse({ mode: 'subset' }) })).toThrow("mode 'subset' moves hosts with the deploy procedure; it has no traffic shifter");
    expect(() => createShifter({ ...base, canary: config() })).toThrow("needs canary.nginx and the load balancer's runner");
  });
});

describe('a split that cannot be written', () => {
  it('is refused before the load balancer is touched (exit 2)', async () => {
    const { s, lb } = nginxWith({});
    const err = (await s.apply({ ...step, stable: [] }).catch((e: unknown) => e)) as ShiftError;
    expect(err).toBeInstanceOf(ShiftError);
    expect(err.message).toBe('lb: 10% needs at least one canary and one stable server (1 canary, 0 stable); nothing was written');
    expect(err.exitCode).toBe(2);
    expect(lb.commands).toEqual([]);
  });
});
