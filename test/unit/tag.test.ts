import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { deployedAnswerProblem, isCommitId, tagProblem, validateTag } from '../../tasks/lib/base/revisions.ts';
import { validateTag as fromDeploy } from '../../tasks/lib/deploy/tag.ts';
import { UsageError } from '../../tasks/lib/base/errors.ts';

const gitAccepts = (tag: string) => {
  try {
    execFileSync('git', ['check-ref-format', `refs/tags/${tag}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('validateTag', () => {
  it('accepts release tags', () => {
    for (const t of ['v3.2.7', 'v3.2.6.2', 'release/2025-01-12', 'v1.0.0-rc.1', 'v1+build.7']) expect(validateTag(t)).toBe(t);
    expect(fromDeploy).toBe(validateTag); // deploy code keeps its import
  });
  it('refuses what git refuses, options and shell tricks, naming the value', () => {
    for (const t of ['', '-rf', '--upload-pack=x', 'v1..2', 'v1 2', 'a;b c', 'v1~1', 'v1^', 'x.lock', 'a:b', 'v1\n', '$(id)', 'a/', '@'])
      expect(() => validateTag(t), t).toThrow(UsageError);
    expect(() => validateTag('v1..2')).toThrow('tag "v1..2" is not a valid git ref name. Give an existing release tag');
  });
  it('within its character set, agrees with git check-ref-format (without running git)', () => {
    const names = ['v1', 'a/b', 'a//b', '/a', 'a/', '.a', 'a/.b', 'a.', 'a..b', 'a.lock', 'a.lock/b', 'a/b.lock', 'a.locked', 'x/y.z', '.', 'a/./b', 'v1.0.lock1', 'a-/b_', '+', 'a/.lock'];
    for (const n of names) expect(tagProblem(n) === null, n).toBe(gitAccepts(n));
  });
});

describe('what a host says it runs', () => {
  const C = 'a'.repeat(40);
  it('a full commit id and a valid tag (or none) pass', () => {
    expect(isCommitId(C)).toBe(true);
    expect(deployedAnswerProblem('/srv/app', { tag: 'v1.2.0', commit: C })).toBeNull();
    expect(deployedAnswerProblem('/srv/app', { tag: null, commit: C })).toBeNull();
  });
  it('anything else is a problem naming the answer', () => {
    expect(deployedAnswerProblem('/srv/app', { tag: 'v1', commit: 'HEAD' })).toBe(
      '/srv/app: git rev-parse HEAD answered "HEAD", not a full commit id (40 hexadecimal digits); check the working copy by hand',
    );
    expect(deployedAnswerProblem('/srv/app', { tag: 'v1', commit: '' })).toContain('answered ""');
    expect(deployedAnswerProblem('/srv/app', { tag: 'x;rm -rf /', commit: C })).toContain('the tag "x;rm -rf /", which may only contain letters, digits and . _ + / -');
  });
});
