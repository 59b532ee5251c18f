/** `--version`: the task, cutover's version (package.json) and, in a clone, the git commit. Light: no heavy import. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export function versionText(task: string, root = ROOT): string {
  let version = 'unknown';
  try {
    version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // not where it should be: say so rather than fail
  }
  let commit = '';
  if (existsSync(path.join(root, '.git'))) {
    try {
      const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
      const dirty = git('status', '--porcelain', '--untracked-files=no') ? ', modified' : '';
      commit = ` (commit ${git('rev-parse', '--short=12', 'HEAD')}${dirty})`;
    } catch {
      // no git here: the version alone
    }
  }
  return `cutover ${task} ${version}${commit}`;
}
