// A local state host answers "is there a control request?" from its files here, without a process
// per interval; with a mount, in the host's own folder. Real folders; then the take command itself
// on the same folder (the request, when there is one, is still taken under its mutex).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canaryFiles, CONTROL_FILE } from '../../tasks/lib/commands/canary.ts';
import { noControlRequest } from '../../tasks/lib/canary/state.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-control-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shared = path.join(dir, 'srv');
const mount = { source: path.join(dir, 'hosts', 'a', 'srv'), target: shared };
const stateDir = path.join(shared, '.cutover', 'app');
mkdirSync(path.join(mount.source, '.cutover', 'app'), { recursive: true });
mkdirSync(stateDir, { recursive: true });

describe('noControlRequest', () => {
  it("looks in the host's own folder: a request there is seen, the same name at the shared path here is not", async () => {
    const host = { transport: 'local' as const, mount };
    expect(await noControlRequest(host, stateDir)).toBe(true);
    writeFileSync(path.join(stateDir, CONTROL_FILE), '{"action":"pause","by":"not this host"}');
    expect(await noControlRequest(host, stateDir)).toBe(true);
    writeFileSync(path.join(mount.source, '.cutover', 'app', CONTROL_FILE), '{"action":"pause","by":"ops"}');
    expect(await noControlRequest(host, stateDir)).toBe(false);
    // the take command, in the host's namespace, takes exactly that request and removes it
    const runner = new LocalRunner({ name: 'a', address: '127.0.0.1', port: 22, user: 'u' }, [], mount);
    const r = await runner.exec(canaryFiles.take(stateDir));
    expect([r.code, JSON.parse(r.stdout)]).toEqual([0, { action: 'pause', by: 'ops' }]);
    expect(await noControlRequest(host, stateDir)).toBe(true);
  });

  it('without a mount, the folder as it is; any other host, or a relative folder: the command decides', async () => {
    const plain = path.join(dir, 'plain');
    mkdirSync(plain);
    expect(await noControlRequest({ transport: 'local', mount: undefined }, plain)).toBe(true);
    writeFileSync(path.join(plain, CONTROL_FILE), '{"action":"abort"}');
    expect(await noControlRequest({ transport: 'local', mount: undefined }, plain)).toBe(false);
    expect(await noControlRequest({ transport: 'ssh', mount: undefined }, path.join(dir, 'nothing-here'))).toBe(false);
    expect(await noControlRequest({ transport: 'local', mount: undefined }, 'relative/state')).toBe(false);
  });
});
