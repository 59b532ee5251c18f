import { execFileSync } from 'node:child_process';
import { UsageError } from '../base/errors.ts';

/**
 * A tag must be a valid git ref name (git's own rules, by `git check-ref-format`) and must not
 * look like an option or hold shell-significant characters. Checked before the tag reaches any command.
 */
export function validateTag(tag: string): string {
  const bad = (why: string) => new UsageError(`tag ${JSON.stringify(tag)} ${why}. Give an existing release tag, e.g. v3.2.7 (list them: git ls-remote --tags origin).`);
  if (!tag) throw bad('is empty');
  if (tag.startsWith('-')) throw bad('starts with "-"');
  // stricter than git on purpose: release tags need no shell-significant characters
  if (!/^[A-Za-z0-9._+/-]+$/.test(tag)) throw bad('may only contain letters, digits and . _ + / -');
  try {
    execFileSync('git', ['check-ref-format', `refs/tags/${tag}`], { stdio: 'ignore' });
  } catch {
    throw bad('is not a valid git ref name');
  }
  return tag;
}
