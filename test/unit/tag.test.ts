import { describe, expect, it } from 'vitest';
import { validateTag } from '../../tasks/lib/deploy/tag.ts';
import { UsageError } from '../../tasks/lib/base/errors.ts';

describe('validateTag', () => {
  it('accepts release tags', () => {
    for (const t of ['v3.2.7', 'v3.2.6.2', 'release/2025-01-12', 'v1.0.0-rc.1']) expect(validateTag(t)).toBe(t);
  });
  it('refuses what git refuses, options and shell tricks, naming the value', () => {
    for (const t of ['', '-rf', '--upload-pack=x', 'v1..2', 'v1 2', 'a;b c', 'v1~1', 'v1^', 'x.lock', 'a:b', 'v1\n', '$(id)', 'a/', '@'])
      expect(() => validateTag(t), t).toThrow(UsageError);
    expect(() => validateTag('v1..2')).toThrow('tag "v1..2" is not a valid git ref name. Give an existing release tag');
  });
});
