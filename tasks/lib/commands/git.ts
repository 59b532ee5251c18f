import { commitId, tagProblem } from '../base/revisions.ts';
import { command, sh, type Command } from './shell.ts';

/**
 * Revisions are never read as options: tags are named `refs/tags/<tag>` (checked against the tag
 * rules again here), a revision read from a host is a full commit id (40 hex digits: a tag read
 * back from a host is input, and may be named `--output=x`), and every command that takes a
 * revision ends its options with `--end-of-options` (git 2.24+) — except `checkout`, whose
 * `--detach` takes no `--end-of-options` in git 2.39: there the two forms above are the guard
 * (neither can start with `-`).
 */
/** `refs/tags/<tag>`, the tag checked against the tag rules (never read as an option). */
export function tagRef(tag: string): string {
  const why = tagProblem(tag);
  if (why) throw new Error(`tag ${JSON.stringify(tag)} ${why}`);
  return `refs/tags/${tag}`;
}


export const git = {
  isWorkTree: (dir: string): Command => command(sh`git -C ${dir} rev-parse --is-inside-work-tree`, { readOnly: true }),
  /** The tag HEAD sits on exactly, or exit 128 when HEAD is not on a tag. The answer is input: check it (tagProblem). */
  currentTag: (dir: string): Command => command(sh`git -C ${dir} describe --tags --exact-match --end-of-options HEAD`, { readOnly: true }),
  headCommit: (dir: string): Command => command(sh`git -C ${dir} rev-parse --verify --end-of-options HEAD`, { readOnly: true }),
  /** Tracked files changed by hand on the host (a checkout would carry or refuse them). */
  dirtyFiles: (dir: string): Command => command(sh`git -C ${dir} status --porcelain --untracked-files=no`, { readOnly: true }),
  /** Is the tag here already (a commit behind it)? Exit 1 when it is not. Works in a bare repository too. */
  hasTag: (dir: string, tag: string): Command =>
    command(sh`git -C ${dir} rev-parse --quiet --verify --end-of-options ${`${tagRef(tag)}^{commit}`}`, { readOnly: true }),
  /** Does the remote have this tag? Exit 2 when it does not (--exit-code). */
  remoteHasTag: (dir: string, tag: string): Command =>
    command(sh`git -C ${dir} ls-remote --exit-code --tags origin ${tagRef(tag)}`, { readOnly: true }),
  /** Objects and tags only: HEAD, the index and the working tree do not move. A re-pointed tag fails. */
  fetchTags: (dir: string): Command => command(sh`git -C ${dir} fetch --quiet --tags origin`),
  /** Commits between the deployed commit (a full id, as read from the host) and the new tag, newest first. */
  log: (dir: string, fromCommit: string, tag: string): Command =>
    command(sh`git -C ${dir} log --oneline --no-decorate --end-of-options ${`${commitId(fromCommit)}..${tagRef(tag)}`} --`, { readOnly: true }),
  /** Files under `path` that differ between the deployed commit and the tag (pending migration files). */
  changedFiles: (dir: string, fromCommit: string, tag: string, path: string): Command =>
    command(sh`git -C ${dir} diff --name-only --diff-filter=AM --end-of-options ${commitId(fromCommit)} ${tagRef(tag)} -- ${path}`, { readOnly: true }),
  /** in-place: move the working copy to the tag, detached (as the seed scripts do, without a branch). */
  checkoutTag: (dir: string, tag: string): Command => checkoutRev(dir, `${tagRef(tag)}^{commit}`),
  /** in-place: back to the commit a host ran (a full id: never a name read from the host). */
  checkoutCommit: (dir: string, commit: string): Command => checkoutRev(dir, commitId(commit)),
  /** checkoutTag or, with isTag false, checkoutCommit (kept for existing callers). */
  checkout: (dir: string, rev: string, isTag = true): Command => (isTag ? git.checkoutTag(dir, rev) : git.checkoutCommit(dir, rev)),
};

function checkoutRev(dir: string, rev: string): Command {
  return command(sh`git -C ${dir} -c advice.detachedHead=false checkout --quiet --detach ${rev}`);
}
