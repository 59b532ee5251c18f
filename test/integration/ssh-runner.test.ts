import { mkdtempSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw, sh } from '../../tasks/lib/commands/shell.ts';
import { CommandFailedError, HostKeyError, HostUnreachableError } from '../../tasks/lib/base/errors.ts';
import { run } from '../../tasks/lib/runners/run.ts';
import { SshRunner, type SshOptions } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';

let fleet: SshFleet;
const runners: SshRunner[] = [];

function runnerFor(h: SshHost, over: Partial<SshOptions> = {}): SshRunner {
  const r = new SshRunner(
    { name: h.name, address: h.address, port: h.port, user: h.user },
    { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000, ...over },
  );
  runners.push(r);
  return r;
}

beforeAll(async () => {
  fleet = await startSshHosts(2, { dir: mkdtempSync(path.join(os.tmpdir(), 'cutover-ssh-')) });
});
afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
  await fleet?.stop();
});

describe('SshRunner against a real sshd', () => {
  it('runs commands with exit codes, stdout and stderr, over one reused connection', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    const ok = await r.exec(command(sh`printf %s ${"it's a b"}; echo oops >&2`));
    expect(ok).toMatchObject({ host: fleet.hosts[0]!.name, code: 0, stdout: "it's a b", stderr: 'oops\n' });
    expect((await r.exec(command(raw('exit 7')))).code).toBe(7);
    // the same sshd session serves both: one connection, so the client port is the same
    const a = await r.exec(command(raw('echo $SSH_CONNECTION')));
    const b = await r.exec(command(raw('echo $SSH_CONNECTION')));
    expect(a.stdout).toBe(b.stdout);
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs remote pipelines with pipefail and feeds stdin (how secrets travel)', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    expect((await r.exec(command(raw('false | cat')))).code).toBe(1);
    const s = await r.exec(command(raw('IFS= read -r PW && printf "%s" "${#PW}"'), { stdin: 's3cret pw\n' }));
    expect(s.stdout).toBe('9');
  });

  it('finds the stand-ins first on PATH (the sandbox host is a host)', async () => {
    const r = runnerFor(fleet.hosts[1]!);
    expect((await r.exec(command(raw('command -v systemctl')))).stdout.trim()).toBe(path.join(fleet.hosts[1]!.root, 'bin/systemctl'));
  });

  it('streams 50 MB into a sink without holding it in memory', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    let bytes = 0;
    let peakHeap = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        bytes += chunk.length;
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        done();
      },
    });
    const before = process.memoryUsage().heapUsed;
    const res = await r.exec(command(raw('head -c 52428800 /dev/zero')), { sink });
    expect(res.code).toBe(0);
    expect(bytes).toBe(52_428_800);
    expect(res.stdoutBytes).toBe(52_428_800);
    expect(res.stdout.length).toBe(64 * 1024); // only the tail is kept
    expect(peakHeap - before).toBeLessThan(25 * 1024 * 1024); // half the stream: it was never all in memory
  });

  it('run() names the host, the command (secrets masked) and the stderr tail', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    const err = await run(r, command(sh`echo ${'hunter22'} >/dev/null; echo 'fatal: no such tag' >&2; exit 128`, { redact: ['hunter22'] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailedError);
    expect((err as Error).message).toBe(`${fleet.hosts[0]!.name}: \`echo *** >/dev/null; echo 'fatal: no such tag' >&2; exit 128\` exited 128\n    fatal: no such tag`);
  });

  it('kills a command at its timeout', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    await r.exec(command(raw('true'))); // connected first: on a busy machine the handshake alone can take 300 ms
    const t = await r.exec(command(raw("sleep 31.5")), { timeoutMs: 300 });
    expect(t.code).toBeNull();
    expect(t.error).toBe("timed out after 300 ms");
    expect((await r.exec(command(raw("pgrep -f \"sleep 3[1].5\" || true")))).stdout).toBe("");
    expect(t.durationMs).toBeLessThan(15_000); // the timeout, not the 31.5 s sleep (room for a busy machine)
  });

  it('an aborted command is stopped on the host with everything it started (its process group)', async () => {
    const r = runnerFor(fleet.hosts[0]!);
    await r.exec(command(raw('true'))); // connected first: an abort during the handshake is another test's case
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const res = await r.exec(command(raw('sleep 37.5 && echo never')), { signal: ac.signal });
    expect(res.code).toBeNull();
    expect(res.error).toBe('aborted');
    expect((await r.exec(command(raw('pgrep -f "sleep 3[7].5" || true')))).stdout).toBe('');
  });

  it('an abort that comes during the handshake: the command never starts', async () => {
    const r = runnerFor(fleet.hosts[1]!);
    const marker = `/tmp/cutover-abort-${process.pid}-${Date.now()}`;
    const ac = new AbortController();
    const run = r.exec(command(sh`touch ${marker}`), { signal: ac.signal });
    ac.abort(); // the first command waits for the connection: this abort was lost, and the command ran
    expect(await run).toMatchObject({ code: null, error: 'aborted before it started' });
    await new Promise((done) => setTimeout(done, 300));
    expect((await r.exec(command(sh`test -e ${marker} && echo ran || echo absent`))).stdout).toBe('absent\n');
  });

  it('refuses a host whose key is not the one in known_hosts, and an unknown host', async () => {
    const h = fleet.hosts[0]!;
    const other = fleet.hosts[1]!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kh-'));
    // known_hosts that pairs host 0's address with host 1's key: a man in the middle, as far as we know
    const lines = readFileSync(fleet.knownHostsPath, 'utf8').split('\n');
    const keyOf = (x: SshHost) => lines.find((l) => l.startsWith(`[${x.address}]:${x.port} `))!.split(' ').slice(1).join(' ');
    const wrong = path.join(dir, 'wrong');
    writeFileSync(wrong, `[${h.address}]:${h.port} ${keyOf(other)}\n`);
    const e1 = await runnerFor(h, { knownHostsPath: wrong }).exec(command(raw('true'))).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(HostKeyError);
    expect((e1 as Error).message).toContain(`HOST KEY MISMATCH for [${h.address}]:${h.port}: it presented ${h.hostKeyFingerprint}, ${wrong} has ssh-ed25519 ${other.hostKeyFingerprint}`);

    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    const e2 = await runnerFor(h, { knownHostsPath: empty }).exec(command(raw('true'))).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(HostKeyError);
    expect((e2 as Error).message).toContain(`host key of [${h.address}]:${h.port} (${h.hostKeyFingerprint}) is not in ${empty}`);

    // accept-new records an unknown host (like OpenSSH), then verifies against it
    const tofu = path.join(dir, 'tofu');
    writeFileSync(tofu, '');
    expect((await runnerFor(h, { knownHostsPath: tofu, hostKeys: 'accept-new' }).exec(command(raw('echo hi')))).stdout).toBe('hi\n');
    expect(readFileSync(tofu, 'utf8')).toBe(`[${h.address}]:${h.port} ${keyOf(h)}\n`);
    expect(statSync(tofu).size).toBeGreaterThan(0);
  });

  it('reports a dead host as unreachable, naming it', async () => {
    const dead = { name: 'dead-1', address: '127.0.0.1', port: 1, user: 'root' };
    const r = new SshRunner(dead, { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 1000, connectTimeoutMs: 2000 });
    const e = await r.exec(command(raw('true'))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HostUnreachableError);
    expect((e as Error).message).toMatch(/^dead-1: cannot connect to root@\[127\.0\.0\.1\]:1: .*ECONNREFUSED/);
  });

  it('reports a connection cut during a command, and reconnects for the next one', async () => {
    const r = runnerFor(fleet.hosts[1]!);
    // kill this session's own sshd child: the connection dies under the running command
    const res = await r.exec(command(raw('echo started; kill -9 $PPID; sleep 5')));
    expect(res.code).toBeNull();
    expect(res.error).toBe('connection lost before the command finished');
    expect((await r.exec(command(raw('echo back')))).stdout).toBe('back\n');
  });
});
