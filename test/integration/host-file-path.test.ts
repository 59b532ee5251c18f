// A local host with its own folder mounted at the shared path: its files are found here, on this
// machine, with its links followed as the host sees them. Real folders and links; the namespace
// itself is checked against these paths in the last test (a real `unshare`, as the runner makes it).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { hostFilePath } from '../../tasks/lib/runners/mount-namespace.ts';
import { LocalLogPlace, LogReader } from '../../tasks/lib/signals/sources/log-reader.ts';
import { command, sh } from '../../tasks/lib/commands/shell.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-host-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shared = path.join(dir, 'srv');
const source = path.join(dir, 'hosts', 'a', 'srv');
const mount = { source, target: shared };
mkdirSync(shared, { recursive: true });
mkdirSync(path.join(source, 'app', 'releases', 'v2', 'logs'), { recursive: true });
writeFileSync(path.join(source, 'app', 'releases', 'v2', 'logs', 'predictions_2026-12-01.jsonl'), '{"n":1}\n{"n":2}\n');
// as a deploy leaves them: an absolute link in the host's view, a relative one, a loop
symlinkSync(path.join(shared, 'app', 'releases', 'v2'), path.join(source, 'app', 'current'));
symlinkSync('current/logs', path.join(source, 'app', 'logs'));
symlinkSync('loop2', path.join(source, 'loop1'));
symlinkSync('loop1', path.join(source, 'loop2'));
// the same name at the shared path on this machine: a host must never read it
mkdirSync(path.join(shared, 'app', 'releases', 'v2', 'logs'), { recursive: true });

describe('hostFilePath', () => {
  it('follows an absolute link into the shared path to the host folder, and a relative one beside it', async () => {
    const want = path.join(source, 'app', 'releases', 'v2', 'logs', 'predictions_2026-12-01.jsonl');
    expect(await hostFilePath(mount, path.join(shared, 'app', 'current', 'logs', 'predictions_2026-12-01.jsonl'))).toBe(want);
    expect(await hostFilePath(mount, path.join(shared, 'app', 'logs', 'predictions_2026-12-01.jsonl'))).toBe(want);
    expect(await hostFilePath(mount, path.join(shared, 'app', 'current', '..', 'current', 'logs'))).toBe(path.dirname(want));
  });

  it('maps what does not exist as written; paths outside the shared path stay; a loop is an error naming the path', async () => {
    expect(await hostFilePath(mount, path.join(shared, 'app', 'current', 'nope', 'x.jsonl'))).toBe(path.join(source, 'app', 'releases', 'v2', 'nope', 'x.jsonl'));
    expect(await hostFilePath(mount, '/etc/hostname')).toBe('/etc/hostname');
    expect(await hostFilePath(mount, shared)).toBe(source);
    await expect(hostFilePath(mount, path.join(shared, 'loop1', 'x'))).rejects.toThrow(`${path.join(shared, 'loop1', 'x')}: more than 40 symbolic links`);
  });

  it('names the file the host itself reads in its namespace', async () => {
    const runner = new LocalRunner({ name: 'a', address: '127.0.0.1', port: 22, user: 'u' }, [], mount);
    const logs = path.join(shared, 'app', 'logs');
    const inside = await runner.exec(command(sh`cat ${logs}/predictions_2026-12-01.jsonl`));
    expect([inside.code, inside.stderr]).toEqual([0, ""]);
    const place = new LocalLogPlace(path.join(logs, 'predictions_{date}.jsonl'), mount);
    const got: string[] = [];
    await new LogReader('a', path.join(logs, 'predictions_{date}.jsonl'), place).read((buf, s, e) => got.push(buf.toString('utf8', s, e)), { since: Date.parse('2026-12-01T00:00:00Z') });
    expect(`${got.join('\n')}\n`).toBe(inside.stdout);
    expect(got).toEqual(['{"n":1}', '{"n":2}']);
    // without the mount, the same path on this machine is the empty folder beside it
    expect(await new LocalLogPlace(path.join(logs, 'predictions_{date}.jsonl')).list()).toEqual([]);
  });

  it('a daily file that is itself an absolute link into the shared path: followed in the host folder', async () => {
    const v2 = path.join(source, 'app', 'releases', 'v2');
    writeFileSync(path.join(v2, 'kept.jsonl'), '{"n":3}\n');
    writeFileSync(path.join(shared, 'app', 'releases', 'v2', 'kept.jsonl'), '{"n":"not this host"}\n{"n":0}\n');
    symlinkSync(path.join(shared, 'app', 'releases', 'v2', 'kept.jsonl'), path.join(v2, 'logs', 'predictions_2026-12-02.jsonl'));
    const logs = path.join(shared, 'app', 'logs');
    const place = new LocalLogPlace(path.join(logs, 'predictions_{date}.jsonl'), mount);
    expect(await place.list()).toEqual(expect.arrayContaining([{ name: 'predictions_2026-12-02.jsonl', size: 8 }]));
    expect(place.pathOf('predictions_2026-12-02.jsonl')).toBe(path.join(v2, 'kept.jsonl'));
    expect(place.pathOf('predictions_2026-12-01.jsonl')).toBe(path.join(v2, 'logs', 'predictions_2026-12-01.jsonl'));
  });
});
