// A connection that drops under a command leaves that command running on the host (sshd does not
// stop it). The runner stops it by its tag on the next connection, before anything else runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { cutSessions, startSshHosts, type SshFleet } from '../support/sshd.ts';

let fleet: SshFleet;
let dir: string;

const pgrep = (pattern: string): string[] => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return [];
  }
};

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-lost-'));
  fleet = await startSshHosts(1, { dir });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a connection lost under a command', () => {
  it('the command left running is stopped by its tag and confirmed gone before the next command runs', async () => {
    const h = fleet.hosts[0]!;
    const notices: string[] = [];
    const r = new SshRunner(
      { name: h.name, address: h.address, port: h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000, onNotice: (m) => notices.push(m) },
    );
    try {
      const marker = path.join(dir, 'finished');
      const long = r.exec(command(raw(`sleep 41.5; touch ${marker}`)));
      await until('the command to start', () => pgrep('sleep 4[1].5').length > 0);
      cutSessions(h);
      const res = await long;
      expect(res.code).toBeNull();
      expect(res.error).toBe('connection lost before the command finished');
      expect(pgrep('sleep 4[1].5').length).toBeGreaterThan(0); // what the defect was: still running on the host

      // the next command runs only once the old one is gone: it looks for it itself
      const next = await r.exec(command(raw('pgrep -f "sleep 4[1].5" >/dev/null && echo ALIVE || echo GONE')));
      expect(next.stdout).toBe('GONE\n');
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(
        new RegExp(`^${h.name}: the connection dropped while \`sleep 41\\.5; touch .*finished\` ran; on reconnecting, its \\d+ process\\(es\\) still running were stopped \\(tag cutover-[0-9a-f]{16}\\) and are gone$`),
      );
      expect(r.notices).toEqual(notices);
      expect((await r.exec(command(raw('echo again')))).stdout).toBe('again\n'); // nothing left to stop: no new notice
      expect(notices).toHaveLength(1);
    } finally {
      await r.close();
    }
  });

  it('a command that ended with its connection is reported as no longer running', async () => {
    const h = fleet.hosts[0]!;
    const r = new SshRunner(
      { name: h.name, address: h.address, port: h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 },
    );
    try {
      // the command kills its own session's sshd, then exits at once
      const res = await r.exec(command(raw('kill -9 $PPID; exit 0')));
      expect(res.error).toBe('connection lost before the command finished');
      expect((await r.exec(command(raw('echo back')))).stdout).toBe('back\n');
      expect(r.notices).toEqual([`${h.name}: the connection dropped while \`kill -9 $PPID; exit 0\` ran; on reconnecting, it was no longer running`]);
    } finally {
      await r.close();
    }
  });
});
