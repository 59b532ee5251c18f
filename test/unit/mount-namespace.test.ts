import { describe, expect, it } from 'vitest';
import { BIND_SCRIPT, hostPath, mountNamespaceArgv } from '../../tasks/lib/runners/mount-namespace.ts';

const mount = { source: '/x/.sandbox-canary/hosts/sandbox-a/srv', target: '/x/.sandbox-canary/srv' };

describe('mountNamespaceArgv', () => {
  it('as root: a private mount namespace, the host folder bound at the shared path, then the command', () => {
    expect(mountNamespaceArgv(mount, 'root')).toEqual([
      'unshare', '--mount', '--propagation', 'private', '--',
      '/bin/sh', '-c', 'mount --bind "$1" "$2" || exit 125; shift 2; exec "$@"', 'sh',
      '/x/.sandbox-canary/hosts/sandbox-a/srv', '/x/.sandbox-canary/srv',
    ]);
  });

  it('as another user: an unprivileged user namespace mapping the user to root', () => {
    expect(mountNamespaceArgv(mount, 'user').join(' ')).toBe(
      `unshare --user --map-root-user --mount --propagation private -- /bin/sh -c ${BIND_SCRIPT} sh /x/.sandbox-canary/hosts/sandbox-a/srv /x/.sandbox-canary/srv`,
    );
  });

  it('paths travel as arguments, never inside the script (spaces and quotes stay as they are)', () => {
    const odd = { source: "/tmp/it's a/srv", target: '/tmp/$(x) b/srv' };
    const argv = mountNamespaceArgv(odd, 'root');
    expect(argv.slice(-2)).toEqual(["/tmp/it's a/srv", '/tmp/$(x) b/srv']);
    expect(argv[7]).toBe(BIND_SCRIPT);
  });
});

describe('hostPath', () => {
  it('maps a path under the shared path to the host folder; other paths are the same', () => {
    expect(hostPath(mount, '/x/.sandbox-canary/srv/.cutover/app')).toBe('/x/.sandbox-canary/hosts/sandbox-a/srv/.cutover/app');
    expect(hostPath(mount, '/x/.sandbox-canary/srv')).toBe('/x/.sandbox-canary/hosts/sandbox-a/srv');
    expect(hostPath(mount, '/x/.sandbox-canary/srvx/app')).toBe('/x/.sandbox-canary/srvx/app');
    expect(hostPath(mount, '/etc/hosts')).toBe('/etc/hosts');
    expect(hostPath(undefined, '/x/.sandbox-canary/srv/app')).toBe('/x/.sandbox-canary/srv/app');
  });
});
