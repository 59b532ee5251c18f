/**
 * Several `local` hosts on one machine: a host with `mount` runs every command in its own mount
 * namespace where its own folder (`source`) is bind-mounted at the environment's shared path
 * (`target`), so `app.path` is the same for every host, as on a real fleet, and the deploy code
 * runs unchanged. Whatever the command starts (the stand-in systemd's services) keeps that view.
 * Linux only: as root a plain mount namespace; otherwise an unprivileged user namespace.
 */
import { execFile } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { CutoverError } from '../base/errors.ts';

export interface HostMount {
  /** This host's own folder on this machine. */
  readonly source: string;
  /** The shared path every host of the environment sees it at. */
  readonly target: string;
}

/** `root`: unshare --mount (needs CAP_SYS_ADMIN); `user`: an unprivileged user namespace mapping this user to root. */
export type NamespaceKind = 'root' | 'user';

/** Binds $1 at $2, then runs the rest; exit 125 (like `env`) when the mount itself failed. */
export const BIND_SCRIPT = 'mount --bind "$1" "$2" || exit 125; shift 2; exec "$@"';

/** The words to put before a command so it runs with `mount` in place (exact-string tested). */
export function mountNamespaceArgv(mount: HostMount, kind: NamespaceKind): string[] {
  const unshare = kind === 'root' ? ['unshare', '--mount', '--propagation', 'private'] : ['unshare', '--user', '--map-root-user', '--mount', '--propagation', 'private'];
  return [...unshare, '--', '/bin/sh', '-c', BIND_SCRIPT, 'sh', mount.source, mount.target];
}

export const NO_NAMESPACE =
  'hosts[].mount needs a Linux mount namespace, and this machine gives none to this user: run cutover as root (sudo -E npx tsx ...), ' +
  'or allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 and later also ' +
  'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0), or use the one-host local environment (--env local)';

let probed: Promise<NamespaceKind> | undefined;

/** Which namespace this process can make: asked once (a probe `unshare ... true`), then remembered. */
export function namespaceKind(): Promise<NamespaceKind> {
  if (process.getuid?.() === 0) return Promise.resolve('root');
  probed ??= new Promise((resolve, reject) => {
    execFile('unshare', ['--user', '--map-root-user', '--mount', '--propagation', 'private', 'true'], (err, _out, stderr) => {
      if (!err) return resolve('user');
      const why = String(stderr).trim() || err.message;
      reject(new CutoverError(`${NO_NAMESPACE}. (unshare said: ${why})`));
    });
  });
  return probed;
}

/** Where a path of a host with `mount` lives on this machine (paths outside the shared path are the same). */
export function hostPath(mount: HostMount | undefined, p: string): string {
  if (!mount) return p;
  const rel = path.relative(mount.target, p);
  return rel === '' ? mount.source : rel.startsWith('..') || path.isAbsolute(rel) ? p : path.join(mount.source, rel);
}

/** As many links as Linux follows in one path before ELOOP. */
const MAX_LINKS = 40;

/**
 * The file a host's path names, as this machine can open it without entering the host's
 * namespace: every symbolic link followed as the host sees it (an absolute link into the shared
 * path, like `current -> <shared>/app/releases/v2`, leads into this host's own folder too), then
 * hostPath. A part that does not exist ends the walk: the rest is mapped as it is written.
 */
export async function hostFilePath(mount: HostMount, p: string): Promise<string> {
  return hostPath(mount, await hostRealPath(mount, p));
}

/** The path as the host resolves it (every link followed, in the host's view); see hostFilePath. */
export async function hostRealPath(mount: HostMount, p: string): Promise<string> {
  const todo = path.resolve(p).split('/').filter(Boolean);
  let at = '/'; // the host's view, resolved so far
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      at = path.dirname(at);
      continue;
    }
    const next = path.join(at, part);
    // the shared path itself is the bind mount, a folder in the host's view (even if the source is a link here)
    if (next === path.resolve(mount.target)) {
      at = next;
      continue;
    }
    let target: string;
    try {
      target = await readlink(hostPath(mount, next));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EINVAL') {
        at = next; // not a link
        continue;
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') return path.join(next, ...todo);
      throw err;
    }
    if (++links > MAX_LINKS) throw new CutoverError(`${p}: more than ${MAX_LINKS} symbolic links (a loop?)`);
    todo.unshift(...target.split('/').filter(Boolean));
    if (path.isAbsolute(target)) at = '/';
  }
  return at;
}
