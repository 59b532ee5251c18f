// What one SSH connection costs in round trips, against a real sshd: the authentication methods
// asked for (its log at DEBUG1 lists each request): the key straight away, never ssh2's default
// "none" first, which costs a round trip and tells nothing cutover uses; and the end of the
// connection, which must not hold the process until the host has closed its side too. And
// ExecOptions.thenMore: a session opened ahead waits for the next command's line; that command then
// runs exactly as one started on its own channel (its script of several lines, quotes and
// backslashes, its standard input, its exit code, its time limit), and sshd's log shows one exec
// request per command, the spare's included.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw, sh } from '../../tasks/lib/commands/shell.ts';
import { SPARE, spareLine, SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';
import { until } from '../support/until.ts';

let fleet: SshFleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-auth-'));
  // the second host allows one session per connection: no room for a spare beside a command
  fleet = await startSshHosts(2, { dir, hostOptions: (i) => (i === 0 ? { log: true } : { config: ['MaxSessions 1'] }) });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const runner = (h: SshHost) =>
  new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, {
    privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000,
  });

describe('one SSH connection', () => {
  it('offers the key at once: sshd sees publickey requests and no "none" request', async () => {
    const h = fleet.hosts[0] as SshHost;
    const r = runner(h);
    try {
      expect((await r.exec(command(raw('echo ok')))).stdout).toBe('ok\n');
    } finally {
      await r.close();
    }
    const methods = [...readFileSync(h.logFile!, 'utf8').matchAll(/userauth-request for user \S+ service ssh-connection method (\S+)/g)].map((m) => m[1]);
    expect(methods).toEqual(['publickey', 'publickey']); // the key offered, then signed
  });

  it('closing does not wait for the host to close its side: no socket of it is left to hold the process', async () => {
    // a host that never closes its side: a proxy that passes the bytes but neither end
    const h = fleet.hosts[0] as SshHost;
    const held: Socket[] = [];
    const proxy = createServer({ allowHalfOpen: true }, (client) => {
      const host = connect({ host: h.address, port: h.port, allowHalfOpen: true });
      held.push(client, host);
      client.pipe(host, { end: false });
      host.pipe(client, { end: false });
      client.on('error', () => {});
      host.on('error', () => {});
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    writeFileSync(path.join(dir, 'known_hosts_proxy'), readFileSync(fleet.knownHostsPath, 'utf8').replace(`[${h.address}]:${h.port} `, `[127.0.0.1]:${port} `));
    // what would keep this process alive: a socket (and ssh2's keepalive timer, cleared when its socket closes)
    const sockets = () => process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap').length;
    try {
      await until(() => sockets() === 0, 'the connection of the test before to close');
      const r = new SshRunner({ name: h.name, address: '127.0.0.1', port, user: h.user }, {
        privateKeyPath: fleet.clientKeyPath, knownHostsPath: path.join(dir, 'known_hosts_proxy'), hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000,
      });
      expect((await r.exec(command(raw('echo ok')))).stdout).toBe('ok\n');
      await r.close();
      proxy.close();
      for (const s of held) s.unref(); // the proxy's sockets are this process's too: not counted
      await until(() => sockets() === 0, 'the connection\'s socket to be gone', 3000);
    } finally {
      for (const s of held) s.destroy();
      proxy.close();
    }
  });
});

const sessions = (h: SshHost) => readFileSync(h.logFile!, 'utf8').split('\n').filter((l) => l.includes('Starting session: command'));

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return ''; // gone meanwhile
  }
}

/** Every process below `root`, from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const below = (p: number): number[] => [...parent].filter(([, pp]) => pp === p).flatMap(([c]) => [c, ...below(c)]);
  return below(root);
}

describe('spareLine', () => {
  it('one line that `printf %b` turns back into the command line, byte for byte', () => {
    expect(spareLine("bash -c 'a\\nb\n\\\\c %s\\'")).toBe("bash -c 'a\\\\nb\\n\\\\\\\\c %s\\\\'");
    expect(SPARE).toBe(`bash -c 'IFS= read -r c || exit 0; eval "exec $(printf %b "$c")"'`);
  });
});

describe('a spare session (ExecOptions.thenMore)', () => {
  it('the next command runs on it as on its own channel: lines, quotes, backslashes, stdin, exit code; one exec request each', async () => {
    const h = fleet.hosts[0] as SshHost;
    const r = runner(h);
    try {
      const before = sessions(h).length;
      expect((await r.exec(command(raw('echo first')), { thenMore: true })).stdout).toBe('first\n');
      const script = sh`printf '%s|' ${"it's"} ${'a\\nb'} ${'%d'}\nIFS= read -r x; echo "in:$x"\ncat\necho err >&2\nexit 3`;
      const second = await r.exec(command(script, { stdin: 'one\ntwo\n' }), { thenMore: true });
      expect(second).toMatchObject({ code: 3, stdout: "it's|a\\nb|%d|in:one\ntwo\n", stderr: 'err\n' });
      const input = new PassThrough();
      const streamed = r.exec(command(raw('wc -c')), { stdinStream: input });
      input.end('x'.repeat(100_000));
      expect((await streamed).stdout.trim()).toBe('100000');
      // the first, then two spares, each used by the command after it (on its own, each would have added one)
      expect(r.commandsRun).toBe(3);
      await until(() => sessions(h).length - before === 3, 'sshd to log three exec requests', 5000);
    } finally {
      await r.close();
    }
  });

  it('a spare session the host refuses (MaxSessions 1): the next command opens a session of its own', async () => {
    const r = runner(fleet.hosts[1] as SshHost);
    try {
      expect((await r.exec(command(raw('echo one')), { thenMore: true })).stdout).toBe('one\n');
      const two = await r.exec(command(raw('echo two')));
      expect([two.code, two.stdout]).toEqual([0, 'two\n']);
      expect(r.commandsRun).toBe(3); // the first, the spare the host refused, the second on its own
    } finally {
      await r.close();
    }
  });

  it('a command on a spare keeps its time limit; a spare never used ends when the runner closes', async () => {
    const h = fleet.hosts[0] as SshHost;
    const r = runner(h);
    await r.exec(command(raw('true')), { thenMore: true });
    const slow = await r.exec(command(raw('sleep 30')), { timeoutMs: 1000, thenMore: true });
    expect([slow.code, slow.error]).toEqual([null, 'timed out after 1000 ms']);
    expect(r.commandsRun).toBe(3); // true, the spare `sleep` used, and the spare opened after it
    // the spare's shell among this sshd's descendants (other tests' hosts run on this machine too)
    const waiting = () => descendants(h.pid).filter((pid) => cmdline(pid).includes('IFS= read -r c')).length;
    await until(() => waiting() === 1, 'the unused spare to wait on the host', 5000);
    await r.close();
    await until(() => waiting() === 0, 'the unused spare to end', 5000);
  });
});
