// Why a git command that talks to the remote failed, as a preflight or a rollback's plan says it:
// git's own `fatal:` line, read from what a real git prints.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitFailure } from '../../tasks/lib/probes/host-facts.ts';

describe('gitFailure', () => {
  it("names git's reason, not the advice after it", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-git-failure-'));
    const gone = path.join(dir, 'gone.git');
    const r = spawnSync('git', ['ls-remote', '--tags', gone], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Please make sure you have the correct access rights');
    expect(gitFailure({ out: r.stdout + r.stderr, code: r.status! })).toBe(`fatal: '${gone}' does not appear to be a git repository`);
  });

  it('without such a line, the last two lines; without output, the exit code', () => {
    expect(gitFailure({ out: 'one\ntwo\nthree\n', code: 1 })).toBe('two\nthree');
    expect(gitFailure({ out: '', code: 128 })).toBe('exit 128');
  });
});
