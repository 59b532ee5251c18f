// accept-new against real sshd hosts, with a known_hosts file whose last line has no newline.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { SshRunner, type SshOptions } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, sshClientArgs, type SshFleet, type SshHost } from '../support/sshd.ts';

let fleet: SshFleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-tofu-'));
  fleet = await startSshHosts(2, { dir });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function echo(h: SshHost, over: Partial<SshOptions>): Promise<string> {
  const r = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, {
    privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000, ...over,
  });
  try {
    return (await r.exec(command(raw('echo ok')))).stdout;
  } finally {
    await r.close();
  }
}

describe('ssh.hostKeys accept-new', () => {
  it('records a new host after a last line without a newline; both hosts then verify, for cutover and for OpenSSH', async () => {
    const [a, b] = fleet.hosts as [SshHost, SshHost];
    const all = readFileSync(fleet.knownHostsPath, 'utf8').split('\n');
    const lineOf = (h: SshHost) => all.find((l) => l.startsWith(`[${h.address}]:${h.port} `))!;
    const file = path.join(dir, 'known_hosts_no_newline');
    writeFileSync(file, lineOf(a)); // hand-edited: no final newline
    expect(await echo(b, { knownHostsPath: file, hostKeys: 'accept-new' })).toBe('ok\n');
    expect(readFileSync(file, 'utf8')).toBe(`${lineOf(a)}\n${lineOf(b)}\n`);
    expect(await echo(a, { knownHostsPath: file })).toBe('ok\n');
    expect(await echo(b, { knownHostsPath: file })).toBe('ok\n');
    for (const h of [a, b]) expect(execFileSync('ssh', [...sshClientArgs(fleet, h, { knownHostsPath: file }), 'echo', 'ssh-ok'], { encoding: 'utf8' })).toBe('ssh-ok\n');
  });
});
