/**
 * The `releases` strategy: `<path>/repo` is a bare mirror of the remote, each release a git
 * worktree in `<path>/releases/<stamp>_<tag>`, and `<path>/current` a symlink switched atomically
 * (a new link renamed over the old one: readers see the old or the new release, never nothing).
 */
import { and, command, sh, type Command } from './shell.ts';

export interface ReleasePaths {
  readonly root: string;
  readonly repo: string;
  readonly releases: string;
  readonly current: string;
}

export function releasePaths(root: string): ReleasePaths {
  return { root, repo: `${root}/repo`, releases: `${root}/releases`, current: `${root}/current` };
}

export const releases = {
  /** Mirror the remote on first use, then fetch tags. Touches nothing live. */
  prepareRepo: (p: ReleasePaths, remote: string): Command =>
    command(
      sh`mkdir -p ${p.releases} && { [ -d ${p.repo} ] || git clone --quiet --bare ${remote} ${p.repo}; } && git -C ${p.repo} fetch --quiet --tags ${remote} '+refs/tags/*:refs/tags/*'`,
    ),
  /** A new release folder for the tag. Touches nothing live. */
  add: (p: ReleasePaths, dirName: string, tag: string): Command =>
    command(sh`git -C ${p.repo} worktree add --quiet --detach ${`${p.releases}/${dirName}`} ${`refs/tags/${tag}^{commit}`}`),
  /** Where `current` points now (a folder name under releases/), empty before the first release. */
  readCurrent: (p: ReleasePaths): Command => command(sh`if [ -L ${p.current} ]; then basename "$(readlink ${p.current})"; fi`, { readOnly: true }),
  /** Every release folder, oldest first (names start with a sortable UTC stamp). */
  list: (p: ReleasePaths): Command => command(sh`if [ -d ${p.releases} ]; then ls -1 ${p.releases}; fi`, { readOnly: true }),
  /** Atomic switch: build the new link beside `current`, then rename it over `current`. */
  switchTo: (p: ReleasePaths, dirName: string): Command =>
    command(and(sh`ln -sfn ${`releases/${dirName}`} ${`${p.current}.new`}`, sh`mv -T ${`${p.current}.new`} ${p.current}`)),
  /** Remove old releases (never the current one: the caller passes only others). */
  remove: (p: ReleasePaths, dirNames: readonly string[]): Command =>
    command(and(...dirNames.map((d) => sh`git -C ${p.repo} worktree remove --force ${`${p.releases}/${d}`}`), sh`git -C ${p.repo} worktree prune`)),
};

/** `20261121T211500Z_v1.1.0`: sorts by time, says which tag. */
export function releaseDirName(tag: string, at: Date): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}_${tag}`;
}

export function tagOfRelease(dirName: string): string {
  return dirName.replace(/^\d{8}T\d{6}Z_/, '');
}

/** Which release folders to delete so that `keep` remain, never `current`. */
export function releasesToPrune(all: readonly string[], current: string | undefined, keep: number): string[] {
  const sorted = [...all].sort();
  const excess = sorted.length - keep;
  if (excess <= 0) return [];
  return sorted.filter((d) => d !== current).slice(0, excess);
}
