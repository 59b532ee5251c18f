// The authentication methods cutover asks a real sshd for (its log at DEBUG1 lists each request):
// the key straight away, never ssh2's default "none" first, which costs one round trip per
// connection and tells nothing cutover uses.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';

let fleet: SshFleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-auth-'));
  fleet = await startSshHosts(1, { dir, hostOptions: () => ({ log: true }) });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('SSH authentication', () => {
  it('offers the key at once: sshd sees publickey requests and no "none" request', async () => {
    const h = fleet.hosts[0] as SshHost;
    const r = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, {
      privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000,
    });
    try {
      expect((await r.exec(command(raw('echo ok')))).stdout).toBe('ok\n');
    } finally {
      await r.close();
    }
    const methods = [...readFileSync(h.logFile!, 'utf8').matchAll(/userauth-request for user \S+ service ssh-connection method (\S+)/g)].map((m) => m[1]);
    expect(methods).toEqual(['publickey', 'publickey']); // the key offered, then signed
  });
});
