import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';

/**
 * Ends an SSH connection without waiting for the host to close its side too. ssh2's keepalive
 * timer keeps the process alive until the host's end arrives: one round trip at every exit
 * (80 ms on a 40 ms link), after the run's work and report are done.
 */
export function hangUp(ssh: NodeSSH | null | undefined): void {
  // ssh2 keeps its socket (TCP, or a channel through a jump host) private, and its destroy() does
  // nothing once end() ran; test/integration/ssh-connection.test.ts fails if this stops working
  const sock = (ssh?.connection as unknown as { _sock?: Duplex } | null | undefined)?._sock;
  ssh?.dispose(); // the DISCONNECT message, then the end of this side
  sock?.destroy();
}
