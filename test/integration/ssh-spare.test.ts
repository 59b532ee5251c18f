// ExecOptions.thenMore against a real sshd: a session opened ahead waits for the next command's
// line; that command then runs exactly as one started on its own channel (its script of several
// lines, quotes and backslashes, its standard input, its exit code, its time limit), and sshd's log
// shows one exec request per command, the spare's included.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-spare-'));
  fleet = await startSshHosts(1, { dir, hostOptions: () => ({ log: true }) });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const runner = (h: SshHost) =>
  new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, {
    privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000,
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
