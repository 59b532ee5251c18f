/**
 * Several `local` hosts on one machine: a host with `mount` runs every command in its own mount
 * namespace where its own folder (`source`) is bind-mounted at the environment's shared path
 * (`target`), so `app.path` is the same for every host, as on a real fleet, and the deploy code
 * runs unchanged. Whatever the command starts (the stand-in systemd's services) keeps that view.
 * Linux only: as root a plain mount namespace; otherwise an unprivileged user namespace.
 */
import { execFile } from 'node:child_process';
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
