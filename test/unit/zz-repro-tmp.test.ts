import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { it, expect } from 'vitest';
import { command, sh } from '/work/main/tasks/lib/commands/shell.ts';
import { SshRunner } from '/work/main/tasks/lib/runners/ssh.ts';
import { startSshHosts } from '/work/main/test/support/sshd.ts';

it('repro', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'repro-'));
  const fleet = await startSshHosts(1, { dir });
  const h = fleet.hosts[0]!;
  const r = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 10000 });
  const fails: string[] = [];
  for (let i = 0; i < 400; i++) {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c, _e, d) { chunks.push(c); d(); } });
    const res = await r.exec(command(sh`printf '%s\n' abc def`), { sink });
    if (res.code !== 0) fails.push(`${i}: ${res.code} ${res.error}`);
    const res2 = await r.exec(command(sh`true`));
    if (res2.code !== 0) fails.push(`${i}b: ${res2.code} ${res2.error}`);
  }
  await r.close(); await fleet.stop(); rmSync(dir, { recursive: true, force: true });
  expect(fails).toEqual([]);
}, 120000);
