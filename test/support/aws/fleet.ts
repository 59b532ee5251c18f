// Fake EC2 instances for a fleet of sandbox hosts: instance i runs on host i (SSM commands over SSH).
import type { SshFleet, SshHost } from '../sshd.ts';
import { instanceIdFor, type InstanceSpec } from './model.ts';
import { startAwsServer, type AwsServer, type AwsServerOptions } from './server.ts';

export interface FleetInstanceOptions {
  /** Tags of host i; default { Name: host name, Role: 'api', Env: 'sbx' }. */
  tags?: (h: SshHost, i: number) => Record<string, string>;
}

export function fleetInstances(fleet: SshFleet, o: FleetInstanceOptions = {}): InstanceSpec[] {
  return fleet.hosts.map((h, i) => ({
    instanceId: instanceIdFor(i),
    privateIp: h.address,
    tags: o.tags?.(h, i) ?? { Name: h.name, Role: 'api', Env: 'sbx' },
    ssh: { name: h.name, address: h.address, port: h.port, user: h.user },
  }));
}

/** A fake AWS whose instances are the fleet's hosts. */
export function startAwsForFleet(fleet: SshFleet, opts: Omit<AwsServerOptions, 'ssh'> & FleetInstanceOptions = {}): Promise<AwsServer> {
  return startAwsServer({
    ...opts,
    instances: [...fleetInstances(fleet, opts), ...(opts.instances ?? [])],
    ssh: { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath },
  });
}
