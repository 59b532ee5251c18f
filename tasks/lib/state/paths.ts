/** Where the deploy lock and history live on a host. Paths are POSIX: they are used on the host. */
import path from 'node:path';
import { ConfigError } from '../base/errors.ts';

export const LOCK_FILE = 'lock.json';
export const HISTORY_FILE = 'history.jsonl';

/**
 * `app.stateDir`, else `<parent of app.path>/.cutover/<name of app.path>`: outside the working copy
 * (a checkout or a new release folder never touches it), the same for every machine that deploys.
 */
export function stateDirOf(app: { readonly path: string; readonly stateDir?: string }): string {
  if (app.stateDir) return clean(app.stateDir);
  const appPath = clean(app.path);
  const name = path.posix.basename(appPath);
  if (!name) throw new ConfigError([`app.path ${JSON.stringify(app.path)}: cannot derive the state folder from it; set app.stateDir`]);
  return path.posix.join(path.posix.dirname(appPath), '.cutover', name);
}

function clean(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

export const lockFileIn = (stateDir: string): string => path.posix.join(stateDir, LOCK_FILE);
export const historyFileIn = (stateDir: string): string => path.posix.join(stateDir, HISTORY_FILE);
