// The systemctl/journalctl/sudo stand-ins, driven over real SSH on a two-host sandbox fleet.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshClientArgs, startSshHosts, startSshMaster, type SshFleet, type SshHost } from '../support/sshd.ts';

interface Result { code: number; stdout: string; stderr: string; ms: number }

function run(file: string, args: string[], timeout = 15_000): Promise<Result> {
  const t0 = Date.now();
  return new Promise((done) => {
    execFile(file, args, { timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

let dir = '';
let fleet: SshFleet;
let host1: SshHost;
let host2: SshHost;

const masters = new Map<SshHost, { controlPath: string; stop(): Promise<void> }>();

// The real OpenSSH client; through the host's master connection unless `mux: false` asks for a fresh one.
function ssh(host: SshHost, command: string, opts: { knownHosts?: string; mux?: boolean } = {}): Promise<Result> {
  const controlPath = opts.mux === false ? undefined : masters.get(host)?.controlPath;
  return run('ssh', [...sshClientArgs(fleet, host, { knownHostsPath: opts.knownHosts, controlPath }), command]);
}

interface JournalEntry { [field: string]: string }
const parseJson = (stdout: string): JournalEntry[] => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalEntry);

async function journal(host: SshHost, args: string): Promise<JournalEntry[]> {
  const r = await ssh(host, `journalctl ${args} -o json --no-pager -q`);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return parseJson(r.stdout);
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function mainPid(host: SshHost, unit: string): Promise<number> {
  const r = await ssh(host, `systemctl show ${unit} -p MainPID --value`);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^\d+\n$/);
  return Number(r.stdout);
}

const CHATTY = [
  'echo "hello from $$"',
  'echo "<3>db connection refused"',
  'echo "<4>slow query" >&2',
  'echo "plain stderr" >&2',
  'echo "<7>debug detail"',
  'echo "<8>not a level"',
  'echo "env GREETING=$GREETING"',
  "printf 'partial line at exit'",
  'exec sleep 600',
].join('\n');
const chattyPriorities = (pid: number): Record<string, string> => ({
  [`hello from ${pid}`]: '6', 'db connection refused': '3', 'slow query': '4', 'plain stderr': '6',
  'debug detail': '7', '<8>not a level': '6', 'env GREETING=hi there': '6',
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cutover-standins-'));
  const scripts = join(dir, 'scripts');
  await mkdir(scripts);
  await writeFile(join(scripts, 'chatty.sh'), `${CHATTY}\n`);
  await writeFile(join(scripts, 'crashy.sh'), 'echo "<2>fatal: config missing"\necho "giving up" >&2\nsleep 0.3\nexit 1\n');
  await writeFile(join(scripts, 'finisher.sh'), 'echo "all done"\n');
  await chmod(scripts, 0o755);
  fleet = await startSshHosts(2, {
    dir,
    units: [
      { name: 'chatty', description: 'Chatty test service', workingDirectory: scripts, execStart: '/bin/bash ./chatty.sh',
        environment: { GREETING: 'hi there' } },
      { name: 'crashy.service', workingDirectory: scripts, execStart: '/bin/bash ./crashy.sh' },
      { name: 'finisher', workingDirectory: scripts, execStart: '/bin/bash ./finisher.sh' },
    ],
  });
  [host1, host2] = fleet.hosts as [SshHost, SshHost];
  for (const h of fleet.hosts) masters.set(h, await startSshMaster(fleet, h));
});

afterAll(async () => {
  if (fleet) {
    await Promise.all([...masters.values()].map((m) => m.stop()));
    await fleet.stop();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sandbox hosts', () => {
  it('are separate servers with their own address, host key and stand-ins first on PATH', async () => {
    expect(fleet.hosts).toHaveLength(2);
    expect(host1.address).toMatch(/^127\.\d+\.\d+\.1$/);
    expect(host2.address).toBe(host1.address.replace(/\.1$/, '.2'));
    for (const h of [host1, host2]) {
      const keygen = await run('ssh-keygen', ['-lf', join(h.root, 'etc/ssh/ssh_host_ed25519_key.pub')]);
      expect(keygen.stdout.split(' ')[1]).toBe(h.hostKeyFingerprint);
      const r = await ssh(h, 'command -v systemctl journalctl sudo; echo "$HOME"');
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`${h.root}/bin/systemctl\n${h.root}/bin/journalctl\n${h.root}/bin/sudo\n${h.root}\n`);
    }
    expect(host1.hostKeyFingerprint).not.toBe(host2.hostKeyFingerprint);
    const known = (await readFile(fleet.knownHostsPath, 'utf8')).split('\n');
    expect(known[0]).toMatch(new RegExp(`^\\[${host1.address.replaceAll('.', '\\.')}\\]:${host1.port} ssh-ed25519 AAAA\\S+$`));
  });

  it('refuse a client whose known_hosts has the wrong key or none', async () => {
    const wrong = join(dir, 'wrong_known_hosts');
    const host2Key = (await readFile(join(host2.root, 'etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    await writeFile(wrong, `[${host1.address}]:${host1.port} ${host2Key}\n`);
    const mismatch = await ssh(host1, 'echo reached', { knownHosts: wrong, mux: false });
    expect(mismatch.code).toBe(255);
    expect(mismatch.stdout).toBe('');
    expect(mismatch.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(mismatch.stderr).toContain('Host key verification failed.');
    const empty = join(dir, 'empty_known_hosts');
    await writeFile(empty, '');
    const unknown = await ssh(host1, 'echo reached', { knownHosts: empty, mux: false });
    expect(unknown.code).toBe(255);
    expect(unknown.stderr).toContain('Host key verification failed.');
  });
});

describe('systemctl and journalctl over SSH', () => {
  let firstPid = 0;
  let secondPid = 0;

  it('restart returns at once and the service outlives the SSH session, detached from it', async () => {
    const restart = await ssh(host1, 'systemctl restart chatty', { mux: false });
    expect(restart).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(restart.ms).toBeLessThan(30_000); // attached stdio would hold the channel open until `sleep 600` ends (room for a busy machine's handshake)
    const active = await ssh(host1, 'systemctl is-active chatty');
    expect(active).toMatchObject({ code: 0, stdout: 'active\n' });
    firstPid = await mainPid(host1, 'chatty');
    expect(firstPid).toBeGreaterThan(1);
    const proc = await ssh(host1, `ps -o pgid=,sid= -p ${firstPid}; readlink /proc/${firstPid}/fd/0 /proc/${firstPid}/fd/1 /proc/${firstPid}/fd/2`);
    const [ids, fd0, fd1, fd2] = proc.stdout.trim().split('\n');
    expect(ids?.trim().split(/\s+/)).toEqual([String(firstPid), String(firstPid)]); // own group and session
    expect(fd0).toBe('/dev/null');
    expect(fd1).toMatch(/^socket:\[\d+\]$/); // like systemd, a stream socket to the journal
    expect(fd2).toMatch(/^socket:\[\d+\]$/);
    expect(fd2).not.toBe(fd1);
    const other = await ssh(host2, 'systemctl is-active chatty');
    expect(other).toMatchObject({ code: 3, stdout: 'inactive\n' });
  });

  it('is-active and show need no program beside bash (systemd answers in a few ms; each helper process cost the stand-in several)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cutover-no-path-'));
    const bare = (...args: string[]) =>
      new Promise<Result>((done) =>
        execFile('/bin/bash', [join(host1.root, 'bin', 'systemctl'), ...args], { env: { PATH: empty }, encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) =>
          done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, ms: 0 }),
        ),
      );
    try {
      expect(await bare('is-active', '--', 'chatty', 'nosuch')).toMatchObject({ code: 3, stdout: 'active\ninactive\n', stderr: '' });
      expect(await bare('show', '-p', 'MainPID', '--value', 'chatty.service')).toMatchObject({ code: 0, stdout: `${firstPid}\n`, stderr: '' });
      expect(await bare('show', 'chatty', '-p', 'Description,ActiveState,SubState')).toMatchObject({
        code: 0, stdout: 'Description=Chatty test service\nActiveState=active\nSubState=running\n', stderr: '',
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('journalctl -o json gives string fields and journald priorities', async () => {
    const all = await until(() => journal(host1, '-u chatty'), (e) => e.length >= 7, '7 journal entries');
    expect(all).toHaveLength(7);
    expect(Object.fromEntries(all.map((e) => [e.MESSAGE, e.PRIORITY]))).toEqual(chattyPriorities(firstPid));
    for (const entry of all) {
      for (const value of Object.values(entry)) expect(typeof value).toBe('string');
      expect(entry._SYSTEMD_UNIT).toBe('chatty.service');
      expect(entry._PID).toBe(String(firstPid));
      expect(entry.__REALTIME_TIMESTAMP).toMatch(/^\d{16}$/);
      expect(Math.abs(Number(entry.__REALTIME_TIMESTAMP) / 1000 - Date.now())).toBeLessThan(60_000);
    }
    const errors = await journal(host1, '-u chatty -p err');
    expect(errors.map((e) => [e.PRIORITY, e.MESSAGE])).toEqual([['3', 'db connection refused']]);
    const warnings = await journal(host1, '-u chatty -p warning');
    expect(warnings.map((e) => e.MESSAGE).sort()).toEqual(['db connection refused', 'slow query']);
    const range = await journal(host1, '-u chatty -p 4..3');
    expect(range.map((e) => e.PRIORITY).sort()).toEqual(['3', '4']);
    const low = await journal(host1, '-u chatty -p info..debug');
    expect(low.map((e) => e.PRIORITY).sort()).toEqual(['6', '6', '6', '6', '7']);
    expect(await journal(host2, '-u chatty')).toEqual([]);
  });

  it('journalctl -o short, -o cat and -n N', async () => {
    const hostname = (await ssh(host1, 'hostname')).stdout.trim();
    const short = await ssh(host1, 'journalctl -u chatty.service -o short --no-pager');
    const lines = short.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines).toContainEqual(expect.stringMatching(
      new RegExp(`^[A-Z][a-z]{2} \\d{2} \\d{2}:\\d{2}:\\d{2} ${hostname} chatty\\[${firstPid}\\]: hello from ${firstPid}$`)));
    const cat = await ssh(host1, 'journalctl -u chatty -p err -o cat --no-pager');
    expect(cat).toMatchObject({ code: 0, stdout: 'db connection refused\n' });
    const all = await journal(host1, '-u chatty');
    const lastTwo = await journal(host1, '-u chatty -n 2');
    expect(lastTwo).toEqual(all.slice(-2));
    expect(await journal(host1, '-u chatty -n 0')).toEqual([]);
  });

  it('journalctl --since @EPOCH shows only what came after a restart', async () => {
    const since = (await ssh(host1, 'date +%s.%N')).stdout.trim();
    expect(since).toMatch(/^\d+\.\d{9}$/);
    expect(await ssh(host1, 'systemctl restart chatty')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    secondPid = await mainPid(host1, 'chatty');
    expect(secondPid).not.toBe(firstPid);
    const after = await until(() => journal(host1, `-u chatty --since @${since}`), (e) => e.length >= 8, '8 entries since restart');
    // the old process's unfinished last line is flushed when it is stopped, so it is logged after `since`
    expect(after.map((e) => [e._PID, e.MESSAGE])).toContainEqual([String(firstPid), 'partial line at exit']);
    const fresh = after.filter((e) => e._PID === String(secondPid));
    expect(fresh).toHaveLength(7);
    expect(Object.fromEntries(fresh.map((e) => [e.MESSAGE, e.PRIORITY]))).toEqual(chattyPriorities(secondPid));
    expect(after).toHaveLength(8);
    const before = await journal(host1, `-u chatty --until @${since}`);
    expect(before).toHaveLength(7);
    expect(new Set(before.map((e) => e._PID))).toEqual(new Set([String(firstPid)]));
    expect(await journal(host1, '-u chatty')).toHaveLength(15);
  });

  it('is-active says failed for a unit that exits 1, inactive for one that exits 0', async () => {
    expect(await ssh(host1, 'systemctl restart crashy finisher')).toMatchObject({ code: 0, stderr: '' });
    const crashy = await until(() => ssh(host1, 'systemctl is-active crashy'), (r) => r.stdout !== 'active\n', 'crashy to exit');
    expect(crashy).toMatchObject({ code: 3, stdout: 'failed\n' });
    const show = await ssh(host1, 'systemctl show crashy -p ActiveState,SubState,MainPID -p ExecMainCode --property=ExecMainStatus');
    expect(show.stdout).toBe('ActiveState=failed\nSubState=failed\nMainPID=0\nExecMainCode=1\nExecMainStatus=1\n');
    const finisher = await until(() => ssh(host1, 'systemctl is-active finisher'), (r) => r.stdout !== 'active\n', 'finisher to exit');
    expect(finisher).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect((await ssh(host1, 'systemctl show finisher -p ExecMainStatus --value')).stdout).toBe('0\n');
    const both = await ssh(host1, 'systemctl is-active chatty crashy');
    expect(both).toMatchObject({ code: 3, stdout: 'active\nfailed\n' });
    const errors = await journal(host1, '-u crashy -p err');
    expect(errors.map((e) => [e.PRIORITY, e.MESSAGE])).toEqual([['2', 'fatal: config missing']]);
    const merged = await journal(host1, '-u crashy -u finisher');
    expect(merged.map((e) => e.MESSAGE).sort()).toEqual(['all done', 'fatal: config missing', 'giving up']);
  });

  it('stop ends the process group, flushes the last partial line and reports inactive', async () => {
    expect(await ssh(host1, 'sudo -n -u root -- systemctl stop chatty')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await ssh(host1, 'systemctl is-active chatty')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect((await ssh(host1, 'systemctl show chatty -p MainPID,ActiveState')).stdout).toBe('MainPID=0\nActiveState=inactive\n');
    expect((await ssh(host1, `kill -0 ${secondPid}`)).code).toBe(1);
    const last = await journal(host1, '-u chatty -n 1');
    expect(last.map((e) => [e._PID, e.PRIORITY, e.MESSAGE])).toEqual([[String(secondPid), '6', 'partial line at exit']]);
  });

  it('cat prints an existing unit and fails for a missing one', async () => {
    const file = join(host1.root, 'units', 'chatty.service');
    const cat = await ssh(host1, 'systemctl cat chatty');
    expect(cat).toMatchObject({ code: 0, stderr: '' });
    expect(cat.stdout).toBe(`# ${file}\n${await readFile(file, 'utf8')}`);
    expect(cat.stdout).toContain('ExecStart=/bin/bash ./chatty.sh\n');
    expect(await ssh(host1, 'systemctl cat nosuch')).toMatchObject({ code: 1, stdout: '', stderr: 'No files found for nosuch.service.\n' });
  });

  it('an unknown unit gives exit 0 and no output from journalctl, like the real one', async () => {
    expect(await ssh(host1, 'journalctl -u nosuch -p err -o json --no-pager -q')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    // without -q the real journalctl prints this marker, even with -o json
    expect(await ssh(host1, 'journalctl -u nosuch -o json --no-pager')).toMatchObject({ code: 0, stdout: '-- No entries --\n' });
    expect(await ssh(host1, 'systemctl is-active nosuch')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect((await ssh(host1, 'systemctl show nosuch -p LoadState --value')).stdout).toBe('not-found\n');
    expect(await ssh(host1, 'systemctl restart nosuch')).toMatchObject({ code: 5, stderr: 'Failed to restart nosuch.service: Unit nosuch.service not found.\n' });
  });
});

describe('journalctl time filters (run locally against host1)', () => {
  const journalctl = (...args: string[]) => run(join(host1.root, 'bin', 'journalctl'), ['-u', 'chatty', '-o', 'cat', '-q', ...args]);
  const local = (ms: number) => {
    const d = new Date(ms);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  };

  it('reads YYYY-MM-DD HH:MM:SS, relative and @EPOCH times, and rejects garbage', async () => {
    const all = (await journalctl()).stdout;
    expect(all.split('\n').filter(Boolean)).toHaveLength(16);
    expect((await journalctl('--since', local(Date.now() - 3_600_000))).stdout).toBe(all);
    expect((await journalctl('--since', local(Date.now() + 3_600_000))).stdout).toBe('');
    expect((await journalctl('--since', '-5m')).stdout).toBe(all);
    expect((await journalctl('--since', '-1h 30min', '--until', 'now')).stdout).toBe(all);
    expect((await journalctl('--since=5 min ago')).stdout).toBe(all);
    expect((await journalctl('-S', `@${Math.floor(Date.now() / 1000) + 60}`)).stdout).toBe('');
    expect((await journalctl('--until', '2000-01-01')).stdout).toBe('');
    expect(await journalctl('--since', 'last tuesday-ish')).toMatchObject({ code: 1, stderr: 'Failed to parse timestamp: last tuesday-ish\n' });
    expect(await journalctl('-p', 'loud')).toMatchObject({ code: 1, stderr: 'Failed to parse log level: loud\n' });
  });
});
