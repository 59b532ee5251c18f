// What one SSH connection costs in round trips, against a real sshd: the authentication methods
// asked for (its log at DEBUG1 lists each request): the key straight away, never ssh2's default
// "none" first, which costs a round trip and tells nothing cutover uses; and the end of the
// connection, which must not hold the process until the host has closed its side too.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet, type SshHost } from '../support/sshd.ts';
import { until } from '../support/until.ts';

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
