// sandbox/origin.ts: the bare repo cutover deploys from, one annotated tag per demo release.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, DEFAULT_RELEASES } from '../../sandbox/origin.ts';

const run = promisify(execFile);
const git = async (...args: string[]) => (await run('git', args, { env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } })).stdout;

let dir = '';
let bare = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'origin-test-'));
  bare = await createOrigin(dir);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('createOrigin', () => {
  it('returns <dir>/origin.git, a bare repo with branch main at the last release', async () => {
    expect(bare).toBe(join(dir, 'origin.git'));
    expect((await git('-C', bare, 'rev-parse', '--is-bare-repository')).trim()).toBe('true');
    expect((await git('-C', bare, 'symbolic-ref', 'HEAD')).trim()).toBe('refs/heads/main');
    expect((await git('-C', bare, 'rev-parse', 'main')).trim()).toBe((await git('-C', bare, 'rev-parse', 'v1.6.0^{commit}')).trim());
    expect((await git('-C', bare, 'log', '--format=%an <%ae>|%s', 'main')).trim().split('\n')).toEqual([
      'Demo Release Bot <releases@demo-chat.invalid>|Release v1.6.0 (degraded)',
      'Demo Release Bot <releases@demo-chat.invalid>|Release v1.2.0 (unhealthy)',
      'Demo Release Bot <releases@demo-chat.invalid>|Release v1.1.0 (ok)',
      'Demo Release Bot <releases@demo-chat.invalid>|Release v1.0.0 (ok)',
    ]);
  });

  it('pushes one annotated tag per default release (ls-remote)', async () => {
    const refs = (await git('ls-remote', '--tags', bare)).trim().split('\n').map((l) => l.split('\t')[1]);
    expect(refs).toEqual(['refs/tags/v1.0.0', 'refs/tags/v1.0.0^{}', 'refs/tags/v1.1.0', 'refs/tags/v1.1.0^{}', 'refs/tags/v1.2.0', 'refs/tags/v1.2.0^{}', 'refs/tags/v1.6.0', 'refs/tags/v1.6.0^{}']);
    for (const tag of ['v1.0.0', 'v1.1.0', 'v1.2.0', 'v1.6.0']) expect((await git('-C', bare, 'cat-file', '-t', tag)).trim()).toBe('tag');
  });

  it("each tag's release.json names that tag and its mode", async () => {
    const got: Record<string, unknown> = {};
    for (const r of DEFAULT_RELEASES) got[r.tag] = JSON.parse(await git('-C', bare, 'show', `${r.tag}:release.json`));
    expect(got).toEqual({
      'v1.0.0': { version: 'v1.0.0', mode: 'ok' },
      'v1.1.0': { version: 'v1.1.0', mode: 'ok' },
      'v1.2.0': { version: 'v1.2.0', mode: 'unhealthy' },
      'v1.6.0': { version: 'v1.6.0', mode: 'degraded' },
    });
  });

  it('migrations accumulate per tag: 001 from v1.0.0, 002 from v1.1.0', async () => {
    const ls = async (tag: string) => (await git('-C', bare, 'ls-tree', '--name-only', `${tag}:migrations`)).trim().split('\n');
    expect(await ls('v1.0.0')).toEqual(['001_create_messages.sql']);
    expect(await ls('v1.1.0')).toEqual(['001_create_messages.sql', '002_add_message_channel.sql']);
    expect(await ls('v1.2.0')).toEqual(['001_create_messages.sql', '002_add_message_channel.sql']);
    expect(await git('-C', bare, 'show', 'v1.1.0:migrations/002_add_message_channel.sql')).toBe("alter table messages add column channel text default 'web';\n");
  });

  it('every tag holds the app with executable scripts and no install leftovers', async () => {
    const tree = (await git('-C', bare, 'ls-tree', '-r', 'v1.0.0')).trim().split('\n').map((l) => { const [meta, name] = l.split('\t'); return `${meta?.split(' ')[0]} ${name}`; });
    expect(tree).toEqual([
      '100644 .gitignore', '100644 flags.mjs', '100755 install.sh', '100644 metrics.mjs', '100755 migrate.sh', '100644 migrations/001_create_messages.sql', '100644 predict.mjs',
      '100644 rate-limit.mjs', '100644 release.json', '100644 request-log.mjs', '100644 server.mjs',
    ]);
  });

  it('custom releases; same input gives the same SHAs; refuses an existing origin', async () => {
    const d2 = await mkdtemp(join(tmpdir(), 'origin-test-'));
    try {
      const again = await createOrigin(join(d2, 'a'));
      expect((await git('-C', again, 'rev-parse', 'v1.1.0^{commit}')).trim()).toBe((await git('-C', bare, 'rev-parse', 'v1.1.0^{commit}')).trim());
      await expect(createOrigin(join(d2, 'a'))).rejects.toThrow(`createOrigin: ${join(d2, 'a', 'origin.git')} already exists`);

      const custom = await createOrigin(join(d2, 'b'), [
        { tag: 'v2.0.0', mode: 'crash', migrations: { '005_x.sql': 'select 1;\n' } },
        { tag: 'v2.0.1', mode: 'slow-chat' },
      ]);
      expect((await git('ls-remote', '--tags', custom)).trim().split('\n').map((l) => l.split('\t')[1])).toEqual(['refs/tags/v2.0.0', 'refs/tags/v2.0.0^{}', 'refs/tags/v2.0.1', 'refs/tags/v2.0.1^{}']);
      expect(JSON.parse(await git('-C', custom, 'show', 'v2.0.1:release.json'))).toEqual({ version: 'v2.0.1', mode: 'slow-chat' });
      expect((await git('-C', custom, 'ls-tree', '--name-only', 'v2.0.1:migrations')).trim().split('\n')).toEqual(['001_create_messages.sql', '005_x.sql']);
      await expect(createOrigin(join(d2, 'c'), [{ tag: 'v1.0.0', mode: 'ok', migrations: { '../../evil.sql': '' } }])).rejects.toThrow('bad migration name');
    } finally {
      await rm(d2, { recursive: true, force: true });
    }
  });
});
