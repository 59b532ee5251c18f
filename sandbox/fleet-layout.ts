/**
 * Where everything of the local canary fleet lives (pure: paths only). The environment file and
 * the provisioner both derive their paths from here, so they cannot disagree.
 *
 *   <root>/srv                 the path every host shares (empty on this machine: each host's own
 *                              srv/ is mounted there for its commands); app.path is <root>/srv/app
 *   <root>/hosts/<name>/       a sandbox host: bin/ (stand-ins), units/, run/, journal/, and srv/
 *                              (app/, .cutover/ lock and history, logs/ request log)
 *   <root>/nginx/              nginx.conf, upstream.conf (the canary's), access.json, error.log, nginx.pid
 *   <root>/origin.git          the release tags
 */
import { join } from 'node:path';

/** The fleet's hosts: each on its own loopback address, all on one port (like a real fleet behind a load balancer). */
export const FLEET_HOSTS: readonly { name: string; address: string }[] = [
  { name: 'sandbox-a', address: '127.0.10.1' },
  { name: 'sandbox-b', address: '127.0.10.2' },
  { name: 'sandbox-c', address: '127.0.10.3' },
];

export const FLEET_DATABASE = 'demo_canary';

export interface FleetHostLayout {
  name: string;
  address: string;
  /** The sandbox host's folder (stand-ins, units, run, journal). */
  hostRoot: string;
  bin: string;
  /** This host's own folder, mounted at the shared path for its commands. */
  mountSource: string;
  /** Its app folder, as this machine sees it. */
  appDir: string;
}

export interface FleetLayout {
  root: string;
  /** The path every host shares: the mount target. */
  shared: string;
  appPath: string;
  /** The demo service's request log folder, as the hosts see it. */
  logDir: string;
  origin: string;
  nginxDir: string;
  hosts: FleetHostLayout[];
}

export function fleetLayout(root: string, hosts: readonly { name: string; address: string }[] = FLEET_HOSTS): FleetLayout {
  const shared = join(root, 'srv');
  return {
    root,
    shared,
    appPath: join(shared, 'app'),
    logDir: join(shared, 'logs'),
    origin: join(root, 'origin.git'),
    nginxDir: join(root, 'nginx'),
    hosts: hosts.map(({ name, address }) => {
      const hostRoot = join(root, 'hosts', name);
      const mountSource = join(hostRoot, 'srv');
      return { name, address, hostRoot, bin: join(hostRoot, 'bin'), mountSource, appDir: join(mountSource, 'app') };
    }),
  };
}
