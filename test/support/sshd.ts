// A fleet of sandbox hosts, each a real OpenSSH server on its own loopback address.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createHostRoot, stopHostUnits, type UnitSpec } from '../../sandbox/host.ts';
import { cleanupEarlierRuns, trackHostRoot, trackProcess, untrackHostRoot, untrackProcess } from './processes.ts';

export interface SshHost {
  name: string; address: string; port: number; user: string; root: string; hostKeyFingerprint: string; pid: number;
  /** With `log: true`: sshd's own log (LogLevel DEBUG1), e.g. to prove forwarding requests went through it. */
  logFile?: string;
}
/** Per-host extras: sshd_config lines (they win over the defaults: sshd keeps the first value), and a log file. */
export interface HostOptions { config?: string[]; log?: boolean }
export interface SshFleet { dir: string; hosts: SshHost[]; clientKeyPath: string; knownHostsPath: string; stop(): Promise<void> }

const SSHD = '/usr/sbin/sshd'; // sshd must be started by absolute path (it re-executes itself)
const exec = promisify(execFile);
let cleanedUp: Promise<unknown> | null = null;
let fleets = 0;

// 127.X.Y.Z: X from the vitest worker, Y from the pid and a per-process counter, Z the host's index.
function addressFor(index: number, fleet: number): string {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 0);
  const x = 10 + (worker % 200);
  const y = 1 + ((process.pid * 7 + fleet) % 250);
  return `127.${x}.${y}.${index + 1}`;
}

function canBind(address: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, address, () => server.close(() => done(true)));
  });
}

async function freePortOn(address: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if (await canBind(address, port)) return port;
  }
  throw new Error(`no free port on ${address}`);
}

function accepts(address: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: address, port });
    socket.once('connect', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

/** `SHA256:...` as `ssh-keygen -lf` prints it: base64 (no padding) of the SHA-256 of the key blob. */
export function fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const keygen = (path: string, comment: string) => exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);

function sshdConfig(o: { address: string; port: number; hostKey: string; authorizedKeys: string; pidFile: string; root: string; extra: string[] }): string {
  return [
    ...o.extra,
    `ListenAddress ${o.address}`, `Port ${o.port}`, `HostKey ${o.hostKey}`, `AuthorizedKeysFile ${o.authorizedKeys}`,
    `PidFile ${o.pidFile}`, 'UsePAM no', 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password', 'PrintMotd no', 'PrintLastLog no', 'MaxStartups 64', 'MaxSessions 64',
    // HOME=<root>: the host has its own home, so this machine's ~/.bashrc (run by bash for SSH commands) stays out
    `SetEnv "PATH=${o.root}/bin:/usr/local/bin:/usr/bin:/bin" "HOME=${o.root}"`,
    'Subsystem sftp internal-sftp', 'LogLevel ERROR', '',
  ].join('\n');
}

/**
 * With `mountAt`, sshd runs in its own mount namespace where `<root>/srv` is bind-mounted at
 * `mountAt`: every host then sees the same absolute path (like real servers: /srv/app on each),
 * backed by its own folder. Everything started over SSH (services too) inherits that view.
 */
function sshdCommand(configPath: string, root: string, mountAt: string | undefined, logFile?: string): [string, string[]] {
  const log = logFile ? ['-E', logFile] : ['-e'];
  if (!mountAt) return [SSHD, ['-D', ...log, '-f', configPath]];
  const script = `mount --bind "$1" "$2" && exec "$3" -D ${logFile ? '-E "$5"' : '-e'} -f "$4"`;
  return ['unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', join(root, 'srv'), mountAt, SSHD, configPath, ...(logFile ? [logFile] : [])]];
}

async function startHost(dir: string, index: number, fleet: number, units: UnitSpec[], authorizedKeys: string, mountAt?: string, port?: number, extras: HostOptions = {}): Promise<SshHost> {
  const name = `host${index + 1}`;
  const root = join(dir, name);
  await createHostRoot(root, units);
  const sshDir = join(root, 'etc', 'ssh');
  await mkdir(sshDir, { recursive: true });
  const hostKey = join(sshDir, 'ssh_host_ed25519_key');
  await keygen(hostKey, `${name}@cutover-sandbox`);
  const address = addressFor(index, fleet);
  const configPath = join(sshDir, 'sshd_config');
  const fixedPort = port;
  const logFile = extras.log ? join(sshDir, 'sshd.log') : undefined;
  const extra = [...(extras.config ?? []), ...(logFile ? ['LogLevel DEBUG1'] : [])];
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePortOn(address));
    await writeFile(configPath, sshdConfig({ address, port, hostKey, authorizedKeys, pidFile: join(sshDir, 'sshd.pid'), root, extra }));
    if (mountAt) await mkdir(join(root, 'srv'), { recursive: true });
    const [bin, args] = sshdCommand(configPath, root, mountAt, logFile);
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let exited = false;
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('exit', () => (exited = true));
    if (child.pid) trackProcess(child.pid, { label: `sshd ${address}:${port}`, marker: configPath });
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline && !(await accepts(address, port))) await new Promise((r) => setTimeout(r, 20));
    if (!exited && child.pid && Date.now() < deadline) {
      child.unref();
      (child.stderr as Socket).unref(); // a forgotten fleet must not keep the worker alive
      const publicKey = await readFile(`${hostKey}.pub`, 'utf8');
      return { name, address, port, user: userInfo().username, root, hostKeyFingerprint: fingerprint(publicKey), pid: child.pid, ...(logFile ? { logFile } : {}) };
    }
    child.kill('SIGKILL');
    if (child.pid) untrackProcess(child.pid);
    // the port can be taken between the check and sshd's bind: try another one
    if (logFile) stderr += await readFile(logFile, 'utf8').catch(() => '');
    if (attempt >= 3 || !/in use/i.test(stderr)) throw new Error(`sshd on ${address}:${port} did not start: ${stderr.trim().slice(-4000) || 'timeout'}`);
  }
}

async function stopSshd(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const deadline = Date.now() + 5000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  untrackProcess(pid);
}

/** Starts `count` sandbox hosts under opts.dir that accept one client key (root login, key only). */
/** A port free on every one of `addresses` (hosts that share a port, as EC2 discovery expects). */
async function portFreeOnAll(addresses: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if ((await Promise.all(addresses.map((a) => canBind(a, port)))).every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${addresses.join(', ')}`);
}

export async function startSshHosts(
  count: number,
  opts: { dir: string; units?: UnitSpec[]; mountAt?: string; samePort?: boolean; hostOptions?: (index: number) => HostOptions },
): Promise<SshFleet> {
  cleanedUp ??= cleanupEarlierRuns();
  await cleanedUp;
  const dir = resolve(opts.dir);
  await mkdir(dir, { recursive: true });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => {}); // privilege separation folder (root only)
  const clientKeyPath = join(dir, 'client_ed25519');
  await rm(clientKeyPath, { force: true });
  await rm(`${clientKeyPath}.pub`, { force: true });
  await keygen(clientKeyPath, 'cutover-test-client');
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${clientKeyPath}.pub`, 'utf8'), { mode: 0o600 });
  const fleet = fleets++;
  const roots = Array.from({ length: count }, (_, i) => join(dir, `host${i + 1}`));
  roots.forEach(trackHostRoot);
  if (opts.mountAt) await mkdir(opts.mountAt, { recursive: true });
  // samePort: every host listens on one port (each has its own address), as behind EC2 discovery
  const port = opts.samePort ? await portFreeOnAll(roots.map((_, i) => addressFor(i, fleet))) : undefined;
  const started = await Promise.allSettled(roots.map((_, i) => startHost(dir, i, fleet, opts.units ?? [], authorizedKeys, opts.mountAt, port, opts.hostOptions?.(i))));
  const hosts = started.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
  const failure = started.find((p) => p.status === 'rejected');
  if (failure) {
    await Promise.all(hosts.map((h) => stopSshd(h.pid)));
    throw failure.reason;
  }
  const knownHostsPath = join(dir, 'known_hosts');
  const lines = await Promise.all(hosts.map(async (h) => {
    const [type, key] = (await readFile(join(h.root, 'etc', 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8')).trim().split(/\s+/);
    return `[${h.address}]:${h.port} ${type} ${key}`;
  }));
  await writeFile(knownHostsPath, `${lines.join('\n')}\n`);
  return {
    dir, hosts, clientKeyPath, knownHostsPath,
    async stop() {
      await Promise.all(hosts.map((h) => stopSshd(h.pid)));
      await Promise.all(roots.map(async (root) => {
        await stopHostUnits(root);
        untrackHostRoot(root);
      }));
    },
  };
}

/** ssh client options for a fleet host: its key only, its known_hosts only (strict), no prompts, no ~/.ssh/config. */
export function sshClientArgs(fleet: SshFleet, host: SshHost, opts: { knownHostsPath?: string; controlPath?: string } = {}): string[] {
  return ['-F', '/dev/null', '-i', fleet.clientKeyPath, '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${opts.knownHostsPath ?? fleet.knownHostsPath}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', `ControlPath=${opts.controlPath ?? 'none'}`,
    '-p', String(host.port), `${host.user}@${host.address}`];
}

/**
 * A multiplexing master connection to a host, run as a tracked child (not ControlPersist, whose forked
 * master would outlive a crashed run). `ssh -o ControlPath=<controlPath> ...` then skips the handshake.
 */
export async function startSshMaster(fleet: SshFleet, host: SshHost): Promise<{ controlPath: string; stop(): Promise<void> }> {
  const controlPath = join(fleet.dir, `cm-${host.name}`);
  const child = spawn('ssh', ['-M', '-N', ...sshClientArgs(fleet, host, { controlPath })], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exit = new Promise<void>((done) => child.once('exit', () => ((exited = true), done())));
  if (child.pid) trackProcess(child.pid, { label: `ssh master ${host.address}:${host.port}`, marker: controlPath });
  const deadline = Date.now() + 10_000;
  while (!exited && !existsSync(controlPath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await exit;
    if (child.pid) untrackProcess(child.pid);
  };
  if (exited || !existsSync(controlPath)) {
    await stop();
    throw new Error(`ssh master to ${host.address}:${host.port} did not start: ${stderr.trim() || 'timeout'}`);
  }
  child.unref();
  (child.stderr as Socket).unref();
  return { controlPath, stop };
}

/** The per-connection processes of this sshd: one per client connected (or connecting). */
export function sessionPids(h: SshHost): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(h.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // no session open
  }
}

/** Cuts every session of this sshd (kills its per-connection processes; the listener stays): a network drop as the client sees it. */
export function cutSessions(h: SshHost): number {
  const pids = sessionPids(h);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids.length;
}
