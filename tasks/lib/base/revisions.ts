/**
 * What may stand for a revision in a command: a release tag (from the command line, or read back
 * from a host) and a commit id. Pure: a tag is checked against git's ref-name rules here, without
 * running git, so the same rules apply wherever a tag comes from.
 */
import { UsageError } from './errors.ts';

/** Why `tag` is not acceptable as a release tag, or null when it is. */
export function tagProblem(tag: string): string | null {
  if (!tag) return 'is empty';
  if (tag.startsWith('-')) return 'starts with "-"';
  // stricter than git on purpose: release tags need no shell-significant characters
  if (!/^[A-Za-z0-9._+/-]+$/.test(tag)) return 'may only contain letters, digits and . _ + / -';
  // git check-ref-format's rules that this character set leaves to check
  const parts = tag.split('/');
  const invalid =
    tag.includes('..') || tag.endsWith('.') || parts.some((p) => p === '' || p.startsWith('.') || p.endsWith('.lock'));
  return invalid ? 'is not a valid git ref name' : null;
}

/**
 * A tag must be a valid git ref name (git's own rules) and must not look like an option or hold
 * shell-significant characters. Checked before the tag reaches any command.
 */
export function validateTag(tag: string): string {
  const why = tagProblem(tag);
  if (why)
    throw new UsageError(`tag ${JSON.stringify(tag)} ${why}. Give an existing release tag, e.g. v3.2.7 (list them: git ls-remote --tags origin).`);
  return tag;
}

/** A full commit id (SHA-1, 40 lowercase hex digits), as `git rev-parse` prints it. */
export function isCommitId(value: string): boolean {
  return /^[0-9a-f]{40}$/.test(value);
}

/** The commit id, or a programming error: a revision read from a host must be a full commit id. */
export function commitId(value: string): string {
  if (!isCommitId(value)) throw new Error(`not a full commit id (40 hexadecimal digits): ${JSON.stringify(value)}`);
  return value;
}

/**
 * Why what a host says it runs (`tag` from git describe or its release folder, `commit` from
 * rev-parse) cannot be used, or null. A host's answer is input: it is reported, never used.
 */
export function deployedAnswerProblem(dir: string, answer: { tag?: string | null; commit: string }): string | null {
  if (!isCommitId(answer.commit))
    return `${dir}: git rev-parse HEAD answered ${JSON.stringify(answer.commit.slice(0, 200))}, not a full commit id (40 hexadecimal digits); check the working copy by hand`;
  const why = answer.tag ? tagProblem(answer.tag) : null;
  if (why)
    return (
      `${dir}: the deployed commit carries the tag ${JSON.stringify(answer.tag!.slice(0, 200))}, which ${why}: cutover does not use it. ` +
      `Delete that tag on the host (git -C ${dir} tag -d -- <name>) or check out a release tag by hand`
    );
  return null;
}
