// Reaching hosts through jump hosts, with real sshd: proof from the bastion's own log that every
// target connection went through it, one shared connection, a two-hop chain, a changed or
// unreachable hop named, an OpenSSH config file, and an ssh-agent instead of a key file.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostKeyError, HostUnreachableError } from '../../tasks/lib/base/errors.ts';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { Environment, type EnvironmentInput } from '../../tasks/lib/config/schema.ts';
import { runnerFor, settingsFor } from '../../tasks/lib/runners/for-host.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';

let fleet: SshFleet;
let dir: string;
let b1: SshHost; // bastion
let b2: SshHost; // second hop
let t1: SshHost;
let t2: SshHost;
const opened: Runner[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-jump-'));
  // hosts 1 and 2 are jump hosts: they log every forwarding request (LogLevel DEBUG1)
  fleet = await startSshHosts(4, { dir, hostOptions: (i) => (i < 2 ? { log: true, config: ['AllowTcpForwarding yes'] } : {}) });
  [b1, b2, t1, t2] = fleet.hosts as [SshHost, SshHost, SshHost, SshHost];
});
afterAll(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await fleet?.stop();
  if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
});

const hop = (h: SshHost) => `${h.user}@${h.address}:${h.port}`;
const hostOf = (h: SshHost) => ({ name: h.name, address: h.address, port: h.port });

function env(over: Partial<EnvironmentInput> & { ssh: NonNullable<EnvironmentInput['ssh']> }, secrets: Record<string, string> = { K: fleet.clientKeyPath }): LoadedEnvironment {
  const config = Environment.parse({
    hosts: [hostOf(t1), hostOf(t2)],
    app: { path: '/srv/app', repo: 'x' },
    services: [{ unit: 'app' }],
    verify: { health: { url: 'http://{host}/h' } },
    ...over,
  });
  return { name: 't', file: 'environments/t.ts', config, secrets, backupDir: path.join(dir, 'b') };
}

const runner = (e: LoadedEnvironment, i: number) => {
  const hosts = e.config.hosts as { name: string }[];
  const r = runnerFor(e, hosts[i] as never);
  opened.push(r);
  return r;
};
const log = (h: SshHost) => readFileSync(h.logFile!, 'utf8');
/** sshd's DEBUG1 line for each forwarding request it served: `server_request_direct_tcpip: originator ..., target ADDRESS port PORT`. */
const forwardsTo = (h: SshHost, t: SshHost) => log(h).split('\n').filter((l) => l.includes('server_request_direct_tcpip:') && new RegExp(`target ${t.address.replaceAll('.', '\\.')} port ${t.port}\\b`).test(l)).length;
const sessions = (h: SshHost) => log(h).split('\n').filter((l) => /Accepted publickey for /.test(l)).length;
const echoName = async (r: Runner) => (await r.exec(command(raw('echo "$HOME"')))).stdout.trim();

describe('ssh.jump', () => {
  it('every target connection goes through the bastion, over one shared connection to it', async () => {
    const before = { sessions: sessions(b1), t1: forwardsTo(b1, t1), t2: forwardsTo(b1, t2) };
    const e = env({ ssh: { user: 'root', privateKey: { env: 'K' }, knownHosts: fleet.knownHostsPath, jump: hop(b1) } });
    const [r1, r2] = [runner(e, 0), runner(e, 1)];
    expect(await Promise.all([echoName(r1), echoName(r2)])).toEqual([t1.root, t2.root]); // each target's own HOME: the right host answered
    expect(forwardsTo(b1, t1) - before.t1).toBe(1);
    expect(forwardsTo(b1, t2) - before.t2).toBe(1);
    expect(sessions(b1) - before.sessions).toBe(1); // one jump connection for both hosts
    await r1.close();
    expect(await echoName(r2)).toBe(t2.root); // the chain stays while a host still uses it
    await r2.close();
  });

  it('a two-hop chain (like ProxyJump a,b): each hop forwards to the next', async () => {
    const before = { b1: forwardsTo(b1, b2), b2: forwardsTo(b2, t1) };
    const e = env({ ssh: { user: 'root', privateKey: { env: 'K' }, knownHosts: fleet.knownHostsPath, jump: `${hop(b1)},${hop(b2)}` } });
    const r = runner(e, 0);
    expect(await echoName(r)).toBe(t1.root);
    expect(forwardsTo(b1, b2) - before.b1).toBe(1);
    expect(forwardsTo(b2, t1) - before.b2).toBe(1);
    await r.close();
  });

  it('a hop whose host key changed is refused, naming the hop; the target is never asked for', async () => {
    const lines = readFileSync(fleet.knownHostsPath, 'utf8').split('\n').filter(Boolean);
    const keyOf = (h: SshHost) => lines.find((l) => l.startsWith(`[${h.address}]:${h.port} `))!.split(' ').slice(1).join(' ');
    const changed = path.join(dir, 'known_hosts_changed_hop');
    writeFileSync(changed, [`[${b1.address}]:${b1.port} ${keyOf(t2)}`, ...lines.filter((l) => !l.startsWith(`[${b1.address}]`))].join('\n') + '\n');
    const before = forwardsTo(b1, t1);
    const e = env({ ssh: { user: 'root', privateKey: { env: 'K' }, knownHosts: changed, jump: hop(b1) } });
    const err = await runner(e, 0).exec(command(raw('true'))).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toContain(`${t1.name}: through ${hop(b1)}: jump host ${hop(b1)} (root@[${b1.address}]:${b1.port}, hop 1 of 1): HOST KEY MISMATCH for [${b1.address}]:${b1.port}: it presented ${b1.hostKeyFingerprint}`);
    expect(forwardsTo(b1, t1)).toBe(before);
  });

  it('a hop that refuses the connection, or the key, is named', async () => {
    const e = env({ ssh: { user: 'root', privateKey: { env: 'K' }, knownHosts: fleet.knownHostsPath, jump: `root@127.0.0.1:1,${hop(b1)}` } });
    const refused = await runner(e, 0).exec(command(raw('true'))).catch((x: unknown) => x);
    expect(refused).toBeInstanceOf(HostUnreachableError);
    expect((refused as Error).message).toMatch(/^host3: through root@127\.0\.0\.1:1 -> root@\S+: jump host root@127\.0\.0\.1:1 \(root@\[127\.0\.0\.1\]:1, hop 1 of 2\): cannot connect: .*ECONNREFUSED/);

    const stranger = path.join(dir, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const denied = await runner(env({ ssh: { user: 'root', privateKey: { env: 'K' }, knownHosts: fleet.knownHostsPath, jump: hop(b1) } }, { K: stranger }), 0)
      .exec(command(raw('true')))
      .catch((x: unknown) => x);
    expect(denied).toBeInstanceOf(HostUnreachableError);
    expect((denied as Error).message).toContain(`jump host ${hop(b1)} (root@[${b1.address}]:${b1.port}, hop 1 of 1): authentication refused for root`);
  });
});

describe('ssh.config: an OpenSSH config file', () => {
  it('Host patterns and Host * give address, port, user, key, jump host and known_hosts; the environment wins where it speaks', async () => {
    const file = path.join(dir, 'ssh_config');
    writeFileSync(
      file,
      [
        '# like ~/.ssh/config',
        `Host web-a`,
        `  HostName ${t1.address}`,
        `  Port ${t1.port}`,
        `Host web-* !web-x`,
        `  HostName ${t2.address}`,
        `  Port ${t2.port}`,
        `  User nobody-from-web-star`,
        `Host bastion`,
        `  HostName ${b1.address}`,
        `  Port ${b1.port}`,
        `Host *`,
        `  User root`,
        `  IdentityFile ${fleet.clientKeyPath}`,
        `  ProxyJump bastion`,
        `  UserKnownHostsFile ${fleet.knownHostsPath}`,
        '',
      ].join('\n'),
    );
    const before = { t1: forwardsTo(b1, t1), t2: forwardsTo(b1, t2) };
    const e = env({ hosts: [{ name: 'a', address: 'web-a' }, { name: 'b', address: 'web-b', user: 'root' }], ssh: { config: file } });
    const s = settingsFor(e, (e.config.hosts as never[])[1]!);
    expect(s).toMatchObject({
      address: { value: t2.address, from: `${file} (Host web-* !web-x)` },
      port: { value: t2.port, from: `${file} (Host web-* !web-x)` },
      user: { value: 'root', from: 'environment (hosts[].user)' },
      keys: { value: [fleet.clientKeyPath], from: `${file} (Host *)` },
      knownHosts: { value: [fleet.knownHostsPath], from: `${file} (Host *)` },
      jump: { from: `${file} (Host *)` },
    });
    expect(s.jump.value.map((h) => [h.address.value, h.port.value])).toEqual([[b1.address, b1.port]]);
    const [ra, rb] = [runner(e, 0), runner(e, 1)];
    // web-a: its own block's HostName wins over web-*'s (first value wins); user root from Host * (web-* has none for... it has one: see b)
    const a = settingsFor(e, (e.config.hosts as never[])[0]!);
    expect(a.user).toEqual({ value: 'nobody-from-web-star', from: `${file} (Host web-* !web-x)` });
    expect(await echoName(rb)).toBe(t2.root);
    expect(forwardsTo(b1, t2) - before.t2).toBe(1);
    expect(a.address.value).toBe(t1.address);
    const err = await ra.exec(command(raw('true'))).catch((x: unknown) => x); // user nobody-from-web-star cannot log in
    expect(err).toBeInstanceOf(HostUnreachableError);
    expect(forwardsTo(b1, t1) - before.t1).toBe(1); // but it did go through the bastion
    await Promise.all([ra.close(), rb.close()]);
  });
});

describe('ssh.agent', () => {
  let agent: { pid: number; socket: string } | undefined;
  afterAll(() => {
    if (agent) process.kill(agent.pid, 'SIGTERM');
    delete process.env.SSH_AUTH_SOCK;
  });

  it('authenticates hops and targets with the agent\'s key, no key file, and never forwards it', async () => {
    const socket = path.join(dir, 'agent.sock');
    const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    agent = { pid: child.pid!, socket };
    for (let i = 0; i < 250 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
    execFileSync('ssh-add', ['-q', fleet.clientKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
    process.env.SSH_AUTH_SOCK = socket;
    const e = env({ ssh: { user: 'root', agent: true, knownHosts: fleet.knownHostsPath, jump: hop(b1) } }, {});
    const r = runner(e, 0);
    const out = await r.exec(command(raw('echo "$HOME agent=${SSH_AUTH_SOCK:-none}"')));
    expect(out.stdout).toBe(`${t1.root} agent=none\n`);
    await r.close();
  });

  it('ssh.agent without SSH_AUTH_SOCK is refused with what to do', () => {
    delete process.env.SSH_AUTH_SOCK;
    const e = env({ ssh: { user: 'root', agent: true, knownHosts: fleet.knownHostsPath } }, {});
    expect(() => runnerFor(e, (e.config.hosts as never[])[0]!)).toThrow('ssh.agent is true but SSH_AUTH_SOCK is not set');
  });
});
