import { command, sh, type Command } from './shell.ts';

/**
 * Tags are validated as git ref names before any use (tasks/lib/deploy/tag.ts); the builders quote
 * them anyway, and always name them as `refs/tags/<tag>` so a tag can never be read as an option
 * or a branch.
 */
const tagRef = (tag: string) => `refs/tags/${tag}`;

export const git = {
  isWorkTree: (dir: string): Command => command(sh`git -C ${dir} rev-parse --is-inside-work-tree`, { readOnly: true }),
  /** The tag HEAD sits on exactly, or exit 128 when HEAD is not on a tag. */
  currentTag: (dir: string): Command => command(sh`git -C ${dir} describe --tags --exact-match HEAD`, { readOnly: true }),
  headCommit: (dir: string): Command => command(sh`git -C ${dir} rev-parse HEAD`, { readOnly: true }),
  /** Tracked files changed by hand on the host (a checkout would carry or refuse them). */
  dirtyFiles: (dir: string): Command => command(sh`git -C ${dir} status --porcelain --untracked-files=no`, { readOnly: true }),
  /** Does the remote have this tag? Exit 2 when it does not (--exit-code). */
  remoteHasTag: (dir: string, tag: string): Command =>
    command(sh`git -C ${dir} ls-remote --exit-code --tags origin ${tagRef(tag)}`, { readOnly: true }),
  /** Objects and tags only: HEAD, the index and the working tree do not move. A re-pointed tag fails. */
  fetchTags: (dir: string): Command => command(sh`git -C ${dir} fetch --quiet --tags origin`),
  /** Commits between the deployed tag (or commit) and the new tag, newest first. */
  log: (dir: string, from: string, tag: string): Command =>
    command(sh`git -C ${dir} log --oneline --no-decorate ${`${from}..${tagRef(tag)}`} --`, { readOnly: true }),
  /** Files under `path` that differ between the two revisions (pending migration files). */
  changedFiles: (dir: string, from: string, tag: string, path: string): Command =>
    command(sh`git -C ${dir} diff --name-only --diff-filter=AM ${from} ${tagRef(tag)} -- ${path}`, { readOnly: true }),
  /** in-place: move the working copy to the tag, detached (as the seed scripts do, without a branch). */
  checkout: (dir: string, rev: string, isTag = true): Command =>
    command(sh`git -C ${dir} -c advice.detachedHead=false checkout --quiet --detach ${isTag ? `${tagRef(rev)}^{commit}` : rev}`),
};
