// A tag read back from a host is input: a tag named like an option on the deployed commit must
// never reach a git command as an option, and the readers of what a host runs report it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../../tasks/lib/commands/git.ts';
import { Environment } from '../../tasks/lib/config/schema.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { readHostFacts as inspectDeployed } from '../../tasks/lib/probes/host-facts.ts';
import { LocalRunner } from '../../tasks/lib/runners/local.ts';
import { readDeployed as verifyDeployed } from '../../tasks/lib/verify/host-checks.ts';

let work: string;
let repo: string;
let v1: string;
const bait = () => path.join(work, 'written-by-git');
const g = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
const runner = () => new LocalRunner({ name: 'h1', address: '127.0.0.1', port: 22, user: 'u' });

function envFor(dir: string): LoadedEnvironment {
  const config = Environment.parse({
    hosts: [{ name: 'h1', address: '127.0.0.1', transport: 'local' }],
    app: { path: dir, repo: 'x' },
    services: [{ unit: 'app' }],
    verify: { health: { url: 'http://{host}/h' } },
  });
  return { name: 't', file: 'environments/t.ts', config, secrets: {}, backupDir: path.join(work, 'b') };
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'cutover-revs-'));
  repo = path.join(work, 'app');
  mkdirSync(path.join(repo, 'migrations'), { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  g('config', 'user.email', 't@example.com');
  g('config', 'user.name', 't');
  writeFileSync(path.join(repo, 'migrations', '001.sql'), 'select 1;\n');
  g('add', '.');
  g('commit', '-q', '-m', 'one');
  g('tag', 'v1');
  v1 = g('rev-parse', 'HEAD');
  writeFileSync(path.join(repo, 'migrations', '002.sql'), 'select 2;\n');
  g('add', '.');
  g('commit', '-q', '-m', 'two');
  g('tag', 'v2');
  g('checkout', '-q', '--detach', 'v1');
  // `git tag` refuses this name, but a fetched or hand-made ref is accepted by git
  g('update-ref', `refs/tags/--output=${bait()}`, v1);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('revisions read from a host', () => {
  it('the readers report a tag named like an option instead of returning it', async () => {
    expect(g('describe', '--tags', '--exact-match', 'HEAD')).toBe(`--output=${bait()}`); // what the host answers
    const facts = await inspectDeployed(envFor(repo), runner());
    expect(facts.deployed).toBeUndefined();
    expect(facts.workTreeProblem).toBe(
      `${repo}: the deployed commit carries the tag ${JSON.stringify(`--output=${bait()}`)}, which starts with "-": cutover does not use it. ` +
        `Delete that tag on the host (git -C ${repo} tag -d -- <name>) or check out a release tag by hand`,
    );
    const read = await verifyDeployed(envFor(repo), { runner: runner(), secrets: [], now: () => 0 });
    expect(read).toEqual({ ok: false, problem: facts.workTreeProblem });
  });

  it('the builders take the commit id, never the host tag, and git writes no file', async () => {
    expect(() => git.changedFiles(repo, `--output=${bait()}`, 'v2', 'migrations')).toThrow('not a full commit id (40 hexadecimal digits)');
    expect(() => git.log(repo, `--output=${bait()}`, 'v2')).toThrow('not a full commit id (40 hexadecimal digits)');
    expect(() => git.checkout(repo, `--output=${bait()}`, false)).toThrow('not a full commit id');
    expect(() => git.checkout(repo, `--output=${bait()}`)).toThrow('starts with "-"');
    const r = runner();
    const files = await r.exec(git.changedFiles(repo, v1, 'v2', 'migrations'));
    expect(files).toMatchObject({ code: 0, stdout: 'migrations/002.sql\n' });
    const log = await r.exec(git.log(repo, v1, 'v2'));
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(/^[0-9a-f]{7,} two\n$/);
    expect(existsSync(bait())).toBe(false);
    expect(readdirSync(work).sort()).toEqual(['app']);
  });

  it('a clean host answers its tag and commit', async () => {
    g('tag', '-d', '--', `--output=${bait()}`);
    const facts = await inspectDeployed(envFor(repo), runner());
    expect({ deployed: facts.deployed, dirty: facts.dirty, workTreeProblem: facts.workTreeProblem }).toEqual({ deployed: { tag: 'v1', commit: v1, release: undefined }, dirty: [] });
    expect(await verifyDeployed(envFor(repo), { runner: runner(), secrets: [], now: () => 0 })).toEqual({ ok: true, tag: 'v1', commit: v1, release: null, dirty: [] });
    const back = await runner().exec(git.checkoutCommit(repo, v1));
    expect(back.code).toBe(0);
  });
});
